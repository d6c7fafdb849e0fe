// The dashboard as the commands start it: a data source over a cluster's registry, hosts and bus,
// and its server. Both `guildhall dashboard` and `guildhall dev --dashboard` start it this way.
import type { AgentSpec, MessageBus } from "@guildhall/core";
import type { HostClients } from "@guildhall/engine";
import type { GuildContext, LocationRegistry } from "@guildhall/registry";
import { DashboardSource } from "./data-source.js";
import type { DashboardListenOptions } from "./listen-options.js";
import { startDashboardServer } from "./server.js";

/** Options of {@link startDashboard}. */
export interface StartDashboardOptions {
  readonly registry: LocationRegistry;
  readonly hosts: HostClients;
  readonly bus: MessageBus;
  /** Checked by `resolveDashboardListen`. */
  readonly listen: DashboardListenOptions;
  /**
   * A guild to listen to from the start, before the registry records it: what `dev` launches,
   * so the page shows its agents' first messages too. Default: none; guilds are found by polling.
   */
  readonly guild?: { readonly context: GuildContext; readonly agents: readonly AgentSpec[] };
}

/** A running dashboard. It owns neither the registry, nor the hosts' clients, nor the bus. */
export interface RunningDashboard {
  /** The page's address, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string;
  /** Stops the server and the bus subscriptions. */
  close(): Promise<void>;
}

/** Starts the dashboard; on failure nothing is left listening or subscribed. */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  const source = new DashboardSource(options);
  try {
    if (options.guild !== undefined) {
      await source.feed.watch(options.guild.context, options.guild.agents);
    }
    const server = await startDashboardServer({ source, listen: options.listen });
    return {
      url: server.url,
      async close() {
        await server.close();
        await source.close();
      },
    };
  } catch (error) {
    await source.close();
    throw error;
  }
}
