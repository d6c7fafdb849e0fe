// `guildhall dashboard`: the cluster's live web page (hosts, guilds, agents, messages, an agent's
// state and logs), served from this process until Ctrl-C. Read-only; loopback unless a token
// (GUILDHALL_DASHBOARD_TOKEN) guards it.
import { errorMessage } from "@guildhall/core";
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, connectCluster, type ClusterFlags } from "../cluster.js";
import {
  DASHBOARD_TOKEN_VARIABLE,
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  resolveDashboardListen,
} from "../dashboard/listen-options.js";
import { startDashboard } from "../dashboard/start-dashboard.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { listenForStop } from "../signals.js";

/** The flags of `guildhall dashboard`. */
export interface DashboardFlags extends ClusterFlags {
  readonly port?: string;
  readonly host?: string;
}

async function dashboard(flags: DashboardFlags): Promise<ExitCode> {
  // Checked before anything connects: a refused bind leaves nothing behind.
  const listen = resolveDashboardListen(flags);
  const cluster = await connectCluster(flags);
  const stop = listenForStop();
  // Loaded here: the other commands start faster without the bus.
  const { RedisBus } = await import("@guildhall/bus-redis");
  let bus: InstanceType<typeof RedisBus>;
  try {
    bus = new RedisBus({ ...cluster.bus, commandTimeoutMs: 3_000 });
  } catch (error) {
    stop.dispose();
    await cluster.close();
    throw new CliError(`the hosts' bus: ${errorMessage(error)}`, ExitCode.usage);
  }
  try {
    const running = await startDashboard({
      registry: cluster.registry,
      hosts: cluster.hosts,
      bus,
      listen,
    });
    process.stdout.write(
      `dashboard of ${cluster.redisLabel} on ${running.url}${listen.token === undefined ? "" : ` (open it as ${running.url}?token=<${DASHBOARD_TOKEN_VARIABLE}>)`}; Ctrl-C stops it\n`,
    );
    await stop.requested;
    await running.close();
    return ExitCode.ok;
  } finally {
    stop.dispose();
    await bus.close().catch(() => undefined);
    await cluster.close();
  }
}

/** Adds `guildhall dashboard` to `program`. */
export function registerDashboardCommand(program: Command): Command {
  const command = program
    .command("dashboard")
    .description(
      "Serve a live, read-only web page of the cluster: hosts, guilds, agents, messages, an agent's state and logs.",
    );
  addClusterOptions(command);
  return command
    .option("--port <port>", "the page's port (0 picks a free one)", String(DEFAULT_DASHBOARD_PORT))
    .option(
      "--host <address>",
      `the address to listen on; anything but loopback needs ${DASHBOARD_TOKEN_VARIABLE}`,
      DEFAULT_DASHBOARD_HOST,
    )
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall dashboard --redis redis://localhost:6379
  $ ${DASHBOARD_TOKEN_VARIABLE}=$(openssl rand -hex 24) guildhall dashboard --redis redis://redis:6379 --host 0.0.0.0

With ${DASHBOARD_TOKEN_VARIABLE} set, every request needs it: open the page as /?token=<token> (it
is then kept in a cookie), or send Authorization: Bearer <token>.
Exit status: 0 stopped by Ctrl-C, 1 the port is taken, 2 bad usage (a bind beyond loopback
without a token), 4 Redis cannot be reached.`,
    )
    .action(action("dashboard", dashboard));
}
