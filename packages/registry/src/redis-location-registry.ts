// The location registry on Redis. Every operation is one command or one Lua script, so each is
// atomic and one round trip; nothing on a request path SCANs. The key layout is in keys.ts and the
// README; the scripts are in lua/.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { GuildhallError, type AgentSpec } from "@guildhall/core";
import { RegistryKeys, agentMember, parseAgentMember } from "./keys.js";
import type {
  AgentLocation,
  AgentRegistration,
  DeregisterResult,
  DesiredAgent,
  GuildContext,
  HeartbeatResult,
  HostRegistration,
  HostStatus,
  LocationRegistry,
  LostAgent,
  Placement,
  ReconcilerLease,
  RegisteredAgent,
  RestoreResult,
  RestoredAgent,
  SetDesiredAgentOptions,
} from "./location-registry.js";
import {
  ioredisOptions,
  resolveRedisOptions,
  type RedisLocationRegistryOptions,
  type ResolvedRedisOptions,
} from "./options.js";
import { LuaScripts, isScriptError } from "./lua-scripts.js";
import { findByName, hostLoad } from "./queries.js";
import { RedisErrorMapper, type RedisErrorHints } from "./redis-errors.js";
import { ScriptError, registrationError } from "./script-error.js";
import { SCRIPT_KEYS, type ScriptName } from "./scripts.js";
import { byAddress, byAgentId, byGuildIdThenAgentId, byGuildThenAgent } from "./sort.js";
import {
  checkAddress,
  checkAgentSpec,
  checkDurationMs,
  checkEpoch,
  checkGuildContext,
  checkId,
  resolveHost,
  type ResolvedHost,
} from "./validate.js";

type Reply = string | number | null;

/** The advice that ends the registry's Redis error messages. */
export const REGISTRY_ERROR_HINTS: RedisErrorHints = {
  unreachable:
    "Check GUILDHALL_REDIS_URL (or REDIS_URL) and that the server is running and reachable from " +
    "here; the registry keeps reconnecting and recovers by itself once it is.",
  credentials:
    "Check the user and password in GUILDHALL_REDIS_URL (redis://user:password@host:port).",
  permission:
    "Grant the user the commands and keys the registry uses (see the registry README, Redis ACL).",
  outOfMemory: "Raise maxmemory or free space.",
  wrongType: "Another application uses the same keys: give the registry its own prefix.",
};

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new GuildhallError("internal", `unexpected reply from a registry script: ${String(value)}`);
}

function num(value: unknown): number {
  return Number(text(value));
}

function rows(reply: unknown, width: number, from = 0): Reply[][] {
  if (!Array.isArray(reply)) return [];
  const out: Reply[][] = [];
  for (let i = from; i + width <= reply.length; i += width) {
    out.push(reply.slice(i, i + width) as Reply[]);
  }
  return out;
}

function parseSpec(json: unknown): AgentSpec {
  // Written by this registry after validation, so it is trusted rather than parsed again.
  return JSON.parse(text(json)) as AgentSpec;
}

function hostArgs(host: ResolvedHost): string[] {
  return [
    String(host.maxAgents),
    String(host.leaseMs),
    String(host.agentTtlMs),
    host.draining ? "1" : "0",
  ];
}

function hostStatus(address: string, row: readonly Reply[]): HostStatus {
  return {
    address,
    maxAgents: num(row[0]),
    leaseMs: num(row[1]),
    agentTtlMs: num(row[2]),
    draining: row[3] === "1",
    load: num(row[4]),
    // PTTL is -1 for a key without expiry, which a host record never is; read it as a full lease.
    leaseRemainingMs: num(row[5]) < 0 ? num(row[1]) : num(row[5]),
  };
}

/**
 * A {@link LocationRegistry} on Redis (6.2 or newer; Redis Cluster is not supported).
 *
 * Every change that touches more than one key is one Lua script, so operations are atomic, and
 * each operation is one round trip. The client connects on construction and reconnects by itself
 * after failures; while Redis is unreachable, operations fail fast with a `GuildhallError` of code
 * `unavailable` instead of queueing (see {@link RedisLocationRegistryOptions}).
 *
 * @example
 * ```ts
 * const registry = new RedisLocationRegistry({ url: process.env.GUILDHALL_REDIS_URL! });
 * await registry.registerHost({ address: "10.0.0.7:50051", maxAgents: 100 });
 * await registry.close();
 * ```
 */
export class RedisLocationRegistry implements LocationRegistry {
  readonly #options: ResolvedRedisOptions;
  readonly #keys: RegistryKeys;
  readonly #client: Redis;
  readonly #scripts: LuaScripts<ScriptName>;
  readonly #errors: RedisErrorMapper;
  #closed = false;

  /**
   * Creates the registry and starts connecting; operations issued before the connection is up
   * wait for it (up to `commandTimeoutMs`).
   *
   * @throws GuildhallError `invalid-argument` if an option is invalid.
   */
  constructor(options: RedisLocationRegistryOptions) {
    this.#options = resolveRedisOptions(options);
    this.#keys = new RegistryKeys(this.#options.prefix);
    this.#errors = new RedisErrorMapper(this.#options.url, REGISTRY_ERROR_HINTS);
    this.#client = new Redis(this.#options.url, ioredisOptions(this.#options));
    // Without a listener ioredis reports every failed reconnection attempt on stderr; the reason
    // is kept instead, to explain the commands that fail because of it.
    this.#client.on("error", (error: Error) => this.#errors.connectionFailed(error));
    this.#client.on("ready", () => this.#errors.connected());
    this.#scripts = new LuaScripts(this.#client, {
      dir: new URL("./lua/", import.meta.url),
      scripts: SCRIPT_KEYS,
      commandPrefix: "guildhall_",
    });
  }

  /** The key prefix in use. */
  get prefix(): string {
    return this.#options.prefix;
  }

  // Not async: the lookup path is a round trip plus as little else as possible.
  #call<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    return operation().catch((error: unknown) => {
      throw this.#closed ? closedError() : this.#errors.map(error);
    });
  }

  #run(
    name: ScriptName,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return this.#call(() => this.#scripts.run(name, keys, args));
  }

  #hostKeys(address: string): string[] {
    return [this.#keys.host(address), this.#keys.hostAgents(address), this.#keys.hostLost(address)];
  }

  async registerHost(host: HostRegistration): Promise<void> {
    const resolved = resolveHost(host, this.#options);
    await this.#run(
      "register-host",
      [...this.#hostKeys(resolved.address), this.#keys.hosts()],
      [this.#options.prefix, resolved.address, ...hostArgs(resolved)],
    );
  }

  async restoreHost(
    host: HostRegistration,
    agents: readonly RestoredAgent[],
  ): Promise<RestoreResult> {
    const resolved = resolveHost(host, this.#options);
    const args: string[] = [this.#options.prefix, resolved.address, ...hostArgs(resolved)];
    for (const agent of agents) {
      const guildId = checkId("guild id", agent.guildId);
      const spec = checkAgentSpec(agent.spec);
      const epoch = checkEpoch(agent.epoch);
      args.push(guildId, spec.id, String(epoch), spec.name, JSON.stringify(spec));
    }
    const reply = await this.#run(
      "restore-host",
      [...this.#hostKeys(resolved.address), this.#keys.hosts(), this.#keys.epoch()],
      args,
    );
    const list = reply as Reply[];
    const refused = rows(list, 2, 1).map(([member, epoch]): LostAgent => ({
      ...parseAgentMember(text(member)),
      epoch: num(epoch),
      reason: "moved",
    }));
    return { restored: num(list[0]), refused: refused.sort(byGuildIdThenAgentId) };
  }

  async heartbeat(address: string): Promise<HeartbeatResult> {
    checkAddress(address);
    const reply = await this.#run("heartbeat", this.#hostKeys(address), [
      this.#options.prefix,
      address,
    ]);
    if (reply === ScriptError.HostNotRegistered) return { status: "unknown-host" };
    const list = reply as Reply[];
    const lost = rows(list, 3, 1).map(([member, epoch, reason]): LostAgent => ({
      ...parseAgentMember(text(member)),
      epoch: num(epoch),
      reason: reason === "moved" ? "moved" : "expired",
    }));
    return { status: "ok", renewed: num(list[0]), lost: lost.sort(byGuildIdThenAgentId) };
  }

  async setHostDraining(address: string, draining: boolean): Promise<boolean> {
    checkAddress(address);
    const reply = await this.#run(
      "set-host-draining",
      [this.#keys.host(address)],
      [draining ? "1" : "0"],
    );
    return reply === 1;
  }

  async deregisterHost(address: string): Promise<number> {
    checkAddress(address);
    const reply = await this.#run(
      "deregister-host",
      [...this.#hostKeys(address), this.#keys.hosts()],
      [this.#options.prefix, address],
    );
    return num(reply);
  }

  async getHost(address: string): Promise<HostStatus | undefined> {
    checkAddress(address);
    const reply = await this.#run(
      "get-host",
      [this.#keys.host(address), this.#keys.hostAgents(address)],
      [],
    );
    return reply === null ? undefined : hostStatus(address, reply as Reply[]);
  }

  getHostLoad(address: string): Promise<number> {
    return hostLoad(this, address);
  }

  async listHosts(): Promise<HostStatus[]> {
    const reply = await this.#run("list-hosts", [this.#keys.hosts()], [this.#options.prefix]);
    return rows(reply, 7)
      .map(([address, ...row]) => hostStatus(text(address), row))
      .sort(byAddress);
  }

  async registerAgent(registration: AgentRegistration): Promise<Placement> {
    const guildId = checkId("guild id", registration.guildId);
    const spec = checkAgentSpec(registration.spec);
    const address = checkAddress(registration.hostAddress);
    const reply = await this.#run(
      "register-agent",
      [
        this.#keys.agent(guildId, spec.id),
        this.#keys.guildAgents(guildId),
        this.#keys.host(address),
        this.#keys.hostAgents(address),
        this.#keys.epoch(),
      ],
      [this.#options.prefix, guildId, spec.id, address, spec.name, JSON.stringify(spec)],
    );
    if (isScriptError(reply))
      throw registrationError(reply, agentMember(guildId, spec.id), address);
    const [epoch, previousHost, previousEpoch] = reply as Reply[];
    if (previousHost === null || previousHost === undefined) return { epoch: num(epoch) };
    return {
      epoch: num(epoch),
      previous: { hostAddress: text(previousHost), epoch: num(previousEpoch) },
    };
  }

  // A location key exists only while it is live (its TTL never outlasts its host's lease), so a
  // lookup is one plain HMGET: no script on the hottest path.
  #lookup(guildId: string, agentId: string, fields: string[]): Promise<(string | null)[]> {
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    const key = this.#keys.agent(guildId, agentId);
    return this.#call(() => this.#client.hmget(key, ...fields));
  }

  async getLocation(guildId: string, agentId: string): Promise<AgentLocation | undefined> {
    const [host, epoch] = await this.#lookup(guildId, agentId, ["host", "epoch"]);
    if (host === null || host === undefined) return undefined;
    return { guildId, agentId, hostAddress: host, epoch: num(epoch) };
  }

  async getAgent(guildId: string, agentId: string): Promise<RegisteredAgent | undefined> {
    const [host, epoch, spec] = await this.#lookup(guildId, agentId, ["host", "epoch", "spec"]);
    if (host === null || host === undefined) return undefined;
    return { guildId, agentId, hostAddress: host, epoch: num(epoch), spec: parseSpec(spec) };
  }

  async deregisterAgent(
    guildId: string,
    agentId: string,
    epoch: number,
  ): Promise<DeregisterResult> {
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    checkEpoch(epoch);
    const reply = await this.#run(
      "deregister-agent",
      [this.#keys.agent(guildId, agentId), this.#keys.guildAgents(guildId)],
      [this.#options.prefix, agentMember(guildId, agentId), agentId, String(epoch)],
    );
    if (reply === ScriptError.AgentNotFound) return "not-found";
    if (reply === ScriptError.StaleEpoch) return "stale-epoch";
    return "deregistered";
  }

  async #listGuild(guildId: string, name: string): Promise<RegisteredAgent[]> {
    checkId("guild id", guildId);
    const reply = await this.#run(
      "list-guild-agents",
      [this.#keys.guildAgents(guildId)],
      [this.#options.prefix, guildId, name],
    );
    return rows(reply, 4)
      .map(([agentId, host, epoch, spec]): RegisteredAgent => ({
        guildId,
        agentId: text(agentId),
        hostAddress: text(host),
        epoch: num(epoch),
        spec: parseSpec(spec),
      }))
      .sort(byAgentId);
  }

  listGuildAgents(guildId: string): Promise<RegisteredAgent[]> {
    return this.#listGuild(guildId, "");
  }

  async findAgentsByName(guildId: string, name: string): Promise<RegisteredAgent[]> {
    // Closed first: an empty name is answered without Redis, but not by a closed registry.
    if (this.#closed) throw closedError();
    return findByName(guildId, name, (id, byName) => this.#listGuild(id, byName));
  }

  async setDesiredAgent(
    guild: GuildContext,
    spec: AgentSpec,
    options: SetDesiredAgentOptions = {},
  ): Promise<void> {
    const context = checkGuildContext(guild);
    const checked = checkAgentSpec(spec);
    const desired: DesiredAgent = {
      guild: context,
      spec: checked,
      ...(options.lazy === true && { lazy: true }),
    };
    await this.#run(
      "set-desired-agent",
      [this.#keys.desired(context.id), this.#keys.desiredGuilds()],
      [context.id, checked.id, JSON.stringify(desired)],
    );
  }

  async removeDesiredAgent(guildId: string, agentId: string): Promise<boolean> {
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    const reply = await this.#run(
      "remove-desired",
      [this.#keys.desired(guildId), this.#keys.desiredGuilds()],
      [guildId, agentId],
    );
    return num(reply) > 0;
  }

  async removeDesiredGuild(guildId: string): Promise<number> {
    checkId("guild id", guildId);
    const reply = await this.#run(
      "remove-desired",
      [this.#keys.desired(guildId), this.#keys.desiredGuilds()],
      [guildId, ""],
    );
    return num(reply);
  }

  async listDesiredAgents(guildId: string): Promise<DesiredAgent[]> {
    checkId("guild id", guildId);
    const values = await this.#call(() => this.#client.hvals(this.#keys.desired(guildId)));
    return values.map((json) => JSON.parse(json) as DesiredAgent).sort(byGuildThenAgent);
  }

  async getDesiredAgent(guildId: string, agentId: string): Promise<DesiredAgent | undefined> {
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    const json = await this.#call(() => this.#client.hget(this.#keys.desired(guildId), agentId));
    return json === null ? undefined : (JSON.parse(json) as DesiredAgent);
  }

  async listAllDesiredAgents(): Promise<DesiredAgent[]> {
    const reply = await this.#run(
      "list-all-desired",
      [this.#keys.desiredGuilds()],
      [this.#options.prefix],
    );
    return (reply as Reply[])
      .map((json) => JSON.parse(text(json)) as DesiredAgent)
      .sort(byGuildThenAgent);
  }

  async acquireReconcilerLease(leaseMs: number): Promise<ReconcilerLease | undefined> {
    checkDurationMs("leaseMs", leaseMs);
    const token = randomUUID();
    const reply = await this.#call(() =>
      this.#client.set(this.#keys.reconcilerLease(), token, "PX", leaseMs, "NX"),
    );
    return reply === "OK" ? { token, leaseMs } : undefined;
  }

  async renewReconcilerLease(lease: ReconcilerLease): Promise<boolean> {
    checkDurationMs("leaseMs", lease.leaseMs);
    const reply = await this.#run(
      "renew-lease",
      [this.#keys.reconcilerLease()],
      [lease.token, lease.leaseMs],
    );
    return reply === 1;
  }

  async releaseReconcilerLease(lease: ReconcilerLease): Promise<boolean> {
    const reply = await this.#run("release-lease", [this.#keys.reconcilerLease()], [lease.token]);
    return reply === 1;
  }

  async reconcilerActive(): Promise<boolean> {
    // The lease key expires with the lease (SET PX), so it exists exactly while someone holds it.
    const reply = await this.#call(() => this.#client.exists(this.#keys.reconcilerLease()));
    return reply > 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#client.quit();
    } catch {
      // Unreachable or hung: nothing to say goodbye to.
    }
    this.#client.disconnect();
  }
}

function closedError(): GuildhallError {
  return new GuildhallError(
    "unavailable",
    "the location registry is closed; create a new RedisLocationRegistry to use Redis again",
  );
}
