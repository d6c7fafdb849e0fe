// What the dashboard shows, gathered from the cluster's own interfaces: hosts and guilds from the
// location registry, each agent's process (state, pid, restarts, memory) and output from its host
// over the host API, durable state and live messages from the bus. Nothing here writes.
import {
  errorMessage,
  isDurableBus,
  type AgentSpec,
  type JsonValue,
  type MessageBus,
} from "@guildhall/core";
import type { HostClients } from "@guildhall/engine";
import { LogStream, type AgentInfo } from "@guildhall/proto";
import type { GuildContext, LocationRegistry } from "@guildhall/registry";
import { HOST_CALL_TIMEOUT_MS, agentStateName } from "../host-api.js";
import { MessageFeed } from "./message-feed.js";
import type { AgentDetail, DashboardAgent, DashboardGuild, LogLine, Overview } from "./wire.js";

/** What a {@link DashboardSource} reads from. */
export interface DashboardSourceOptions {
  readonly registry: LocationRegistry;
  /** Clients of the hosts the registry lists, with the hosts' token and TLS. */
  readonly hosts: HostClients;
  /** The hosts' bus: live messages, and durable state when it keeps any. */
  readonly bus: MessageBus;
  /** How long a host may take to answer before its agents show as unknown. Default 3 s. */
  readonly hostCallTimeoutMs?: number;
  /** Log lines an agent's detail shows. Default 200. */
  readonly logLines?: number;
}

const UNKNOWN_GUILD_NAME = "";

/** The dashboard's view of a cluster; {@link MessageFeed} keeps its messages. */
export class DashboardSource {
  readonly feed: MessageFeed;
  readonly #registry: LocationRegistry;
  readonly #hosts: HostClients;
  readonly #bus: MessageBus;
  readonly #timeoutMs: number;
  readonly #logLines: number;

  constructor(options: DashboardSourceOptions) {
    this.#registry = options.registry;
    this.#hosts = options.hosts;
    this.#bus = options.bus;
    this.#timeoutMs = options.hostCallTimeoutMs ?? Math.min(3_000, HOST_CALL_TIMEOUT_MS);
    this.#logLines = options.logLines ?? 200;
    this.feed = new MessageFeed(options.bus);
  }

  /**
   * Hosts, guilds and agents as they are now. Guilds are those an engine wants running; as a side
   * effect the feed starts listening to any topic of theirs it does not hear yet.
   */
  async overview(): Promise<Overview> {
    const [hosts, desired] = await Promise.all([
      this.#registry.listHosts(),
      this.#registry.listAllDesiredAgents(),
    ]);
    const infos = new Map<string, AgentInfo>();
    const reachable = new Map<string, boolean>();
    await Promise.all(
      hosts.map(async ({ address }) => {
        try {
          const { agents } = await this.#hosts
            .get(address)
            .listAgents({ guildId: "" }, { timeoutMs: this.#timeoutMs });
          for (const info of agents) infos.set(`${info.guildId}\u0000${info.agentId}`, info);
          reachable.set(address, true);
        } catch {
          reachable.set(address, false);
        }
      }),
    );

    const guilds = new Map<string, { context: GuildContext; specs: AgentSpec[] }>();
    for (const { guild, spec } of desired) {
      const entry = guilds.get(guild.id) ?? { context: guild, specs: [] };
      entry.specs.push(spec);
      guilds.set(guild.id, entry);
    }
    const shown: DashboardGuild[] = await Promise.all(
      [...guilds.values()].map(async ({ context, specs }) => {
        await this.feed.watch(context, specs);
        const located = new Map(
          (await this.#registry.listGuildAgents(context.id)).map((a) => [a.agentId, a]),
        );
        const agents = specs.map((spec): DashboardAgent => {
          const info = infos.get(`${context.id}\u0000${spec.id}`);
          const host = located.get(spec.id)?.hostAddress ?? info?.hostAddress;
          const lastMessageAt = this.feed.lastMessageAt(context.id, spec.id);
          return {
            id: spec.id,
            name: spec.name,
            ...(host !== undefined && host !== "" && { host }),
            state: info === undefined ? "not running" : agentStateName(info.state),
            restarts: info?.restarts ?? 0,
            pid: info?.pid ?? 0,
            memoryBytes: Number(info?.memoryRssBytes ?? 0n),
            ...(lastMessageAt !== undefined && { lastMessageAt }),
            ...(info?.lastError !== undefined &&
              info.lastError !== "" && {
                lastError: info.lastError,
              }),
          };
        });
        return { id: context.id, name: context.name || UNKNOWN_GUILD_NAME, agents };
      }),
    );
    return {
      hosts: hosts.map((h) => ({
        address: h.address,
        load: h.load,
        maxAgents: h.maxAgents,
        leaseRemainingMs: h.leaseRemainingMs,
        draining: h.draining,
        reachable: reachable.get(h.address) ?? false,
      })),
      guilds: shown.sort((a, b) => a.id.localeCompare(b.id)),
      takenAt: Date.now(),
    };
  }

  /** An agent's spec, durable state and recent output; parts that cannot be had are named. */
  async agentDetail(guildId: string, agentId: string): Promise<AgentDetail | undefined> {
    const problems: string[] = [];
    const [registered, desired] = await Promise.all([
      this.#registry.getAgent(guildId, agentId),
      this.#registry.listDesiredAgents(guildId),
    ]);
    const spec = registered?.spec ?? desired.find((d) => d.spec.id === agentId)?.spec;
    if (spec === undefined) return undefined;

    let state: JsonValue | undefined;
    let commits = 0;
    if (isDurableBus(this.#bus)) {
      try {
        const checkpoint = await this.#bus.readAgent(guildId, agentId);
        commits = checkpoint?.commits ?? 0;
        if (checkpoint?.state !== undefined) state = JSON.parse(checkpoint.state) as JsonValue;
      } catch (error) {
        problems.push(`durable state: ${errorMessage(error)}`);
      }
    }

    const logs: LogLine[] = [];
    if (registered === undefined) {
      problems.push("logs: the agent runs on no host now");
    } else {
      try {
        const stream = this.#hosts
          .get(registered.hostAddress)
          .getAgentLogs(
            { guildId, agentId, follow: false, tailLines: this.#logLines },
            { timeoutMs: this.#timeoutMs },
          );
        for await (const entry of stream) {
          logs.push({
            stream: entry.stream === LogStream.STDERR ? "stderr" : "stdout",
            text: entry.text,
          });
        }
      } catch (error) {
        problems.push(`logs from ${registered.hostAddress}: ${errorMessage(error)}`);
      }
    }
    return {
      guildId,
      agentId,
      spec,
      ...(state !== undefined && { state }),
      commits,
      logs,
      problems,
    };
  }

  /** Stops listening to the bus; the registry, hosts and bus stay open for their owner. */
  async close(): Promise<void> {
    await this.feed.close();
  }
}
