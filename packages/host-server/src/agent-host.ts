// createAgentHost: the agent host as one object with a lifecycle. It assembles the process
// manager, the agents' durable sessions, the registry heartbeat, the Connect server and the metrics
// endpoint, and owns the order in which they start and stop.
import { setMaxListeners } from "node:events";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { GuildhallError, MemoryBus, type DurableMessageBus, errorMessage } from "@guildhall/core";
import { createAgentProcessManager, type AgentProcessManager } from "@guildhall/process-manager";
import { AgentHostService, Health } from "@guildhall/proto";
import {
  MemoryLocationRegistry,
  type HostRegistration,
  type LocationRegistry,
} from "@guildhall/registry";
import type { Logger } from "pino";
import { AgentSupervisor } from "./agent-supervisor.js";
import { createAuthInterceptor } from "./auth-interceptor.js";
import { waitForHandOff, type HandOffEnd } from "./hand-off-wait.js";
import { HeartbeatLoop } from "./heartbeat-loop.js";
import {
  defaultAdvertiseAddress,
  resolveAgentHostOptions,
  type AgentHostOptions,
  type ResolvedAgentHostOptions,
} from "./host-options.js";
import { HostLifecycle, isShuttingDown, refusesAgents, type AgentHostState } from "./host-state.js";
import { listenHttp2, type Http2Listener } from "./http2-server.js";
import { createHostLogger } from "./logger.js";
import { HostMetrics } from "./metrics.js";
import { listenMetrics, type MetricsListener } from "./metrics-server.js";
import { createAgentHostService } from "./rpc/agent-host-service.js";
import { errorMappingInterceptor } from "./rpc/error-mapping.js";
import { createHealthService } from "./rpc/health-service.js";
import { createMetricsInterceptor } from "./rpc/metrics-interceptor.js";
import { createTracingInterceptor } from "./rpc/tracing-interceptor.js";
import { hostVersion } from "./version.js";

/** Options of {@link AgentHost.drain}. */
export interface DrainOptions {
  /**
   * Stop the agents still on the host once the drain stops waiting for them to be moved away
   * (see {@link AgentHost.drain}), keeping their durable state for their next placement.
   * Default false: they keep running, and an active reconciler goes on moving them.
   */
  readonly stopAgents?: boolean;
  /** SIGTERM to SIGKILL for each stopped agent, when shorter than `stopTimeoutMs`. Default `stopTimeoutMs`. */
  readonly timeoutMs?: number;
}

/** What {@link AgentHost.drain} did and left. */
export interface DrainResult {
  /** Agents still holding a process. */
  readonly agentsRemaining: number;
  /**
   * Agents that left for another host since the host started draining: moved by an engine
   * (StopAgent keeping their state), or placed elsewhere meanwhile.
   */
  readonly agentsMoved: number;
  /** Agents this call stopped (with `stopAgents`): nothing moved them in time. */
  readonly agentsStopped: number;
}

/** A running agent host: a Connect/gRPC server whose agents are OS processes. */
export interface AgentHost {
  /**
   * The address engines dial and the registry records (`advertiseAddress`, or derived from the
   * bound port).
   *
   * @throws GuildhallError `failed-precondition` before `start()` resolved when the port is 0
   */
  readonly address: string;
  /**
   * The bound port of the agent host API.
   *
   * @throws GuildhallError `failed-precondition` before `start()` resolved when the port is 0
   */
  readonly port: number;
  /** The bound port of `/metrics`; undefined while not listening or when disabled. */
  readonly metricsPort: number | undefined;
  /** Where the host is in its life. */
  readonly state: AgentHostState;
  /** Agents declared on the host now, asleep or awake. */
  readonly agentCount: number;
  /** The most agents the host holds, asleep or awake. */
  readonly maxAgents: number;
  /**
   * Starts the process manager (and its warm pool), listens, registers the host with its lease
   * and capacity, serves metrics and starts heartbeating. On failure everything started is
   * stopped again before it rejects.
   *
   * @throws GuildhallError `failed-precondition` (a port is taken), `unavailable` (the registry
   *   cannot be reached), or when called twice
   */
  start(): Promise<void>;
  /**
   * Stops taking new agents (CreateAgent fails with UNAVAILABLE, health reports NOT_SERVING) and
   * marks the host draining in the registry, where an engine's reconciler finds it and moves its
   * agents to other hosts that can take them (DESIGN section 14). The host runs them until then.
   * Resolves once none is left, or at `drainTimeoutMs` after draining began, or at once when no
   * reconciler is active (nobody holds its lease, or the registry cannot say); then, with
   * `stopAgents`, stops those left, keeping their durable state. What `guildhall host` does on
   * SIGTERM, before `close()`. Calling it again waits again, up to the same deadline.
   *
   * @throws GuildhallError `failed-precondition` when the host is not serving or draining
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /**
   * Shuts down gracefully: refuses new agents, stops every agent (SIGTERM, SIGKILL after
   * `stopTimeoutMs`), deregisters the host, ends open streams, closes the servers, and closes the
   * registry and bus if the host created them. Idempotent; never rejects (failures are logged).
   */
  close(): Promise<void>;
  /** Same as {@link AgentHost.close}. */
  shutdown(): Promise<void>;
  /** The Prometheus exposition text of the host's metrics (what `/metrics` serves). */
  metrics(): Promise<string>;
}

class AgentHostImpl implements AgentHost {
  readonly #options: ResolvedAgentHostOptions;
  readonly #registry: LocationRegistry;
  readonly #ownsRegistry: boolean;
  readonly #bus: DurableMessageBus;
  readonly #ownsBus: boolean;
  readonly #metrics: HostMetrics;
  readonly #shutdown = new AbortController();
  readonly #lifecycle = new HostLifecycle();
  #logger: Logger;
  #address: string | undefined;
  #port: number | undefined;
  #manager: AgentProcessManager | undefined;
  #supervisor: AgentSupervisor | undefined;
  #heartbeat: HeartbeatLoop | undefined;
  #server: Http2Listener | undefined;
  #metricsServer: MetricsListener | undefined;
  #closing: Promise<void> | undefined;
  /** Aborted when close() begins: a drain stops waiting for moves then. */
  readonly #closeRequested = new AbortController();
  /** When the host began draining, on the `performance.now()` clock. */
  #drainingSince: number | undefined;
  /** The supervisor's `handedOff` when the host began draining. */
  #handedOffBeforeDrain = 0;
  /** The wait for moves in progress, shared by drains called meanwhile. */
  #handOff: Promise<HandOffEnd> | undefined;

  constructor(options: AgentHostOptions) {
    this.#options = resolveAgentHostOptions(options);
    const { registry, bus, leaseMs, logger, logLevel, port, host, advertiseAddress } =
      this.#options;
    this.#registry =
      registry ?? new MemoryLocationRegistry({ hostLeaseMs: leaseMs, agentTtlMs: leaseMs * 2 });
    this.#ownsRegistry = registry === undefined;
    this.#bus = bus ?? new MemoryBus();
    this.#ownsBus = bus === undefined;
    this.#logger = logger ?? createHostLogger(logLevel);
    if (port !== 0) {
      this.#port = port;
      this.#address = advertiseAddress ?? defaultAdvertiseAddress(host, port);
    }
    this.#metrics = new HostMetrics(
      {
        runningByGuild: () => this.#supervisor?.agents.countByGuild("awake") ?? new Map(),
        hibernatedByGuild: () => this.#supervisor?.agents.countByGuild("asleep") ?? new Map(),
        queuedByAgent: () => this.#supervisor?.agents.queued() ?? [],
        maxAgents: this.#options.maxAgents,
        draining: () => refusesAgents(this.#lifecycle.state),
      },
      { processMetrics: this.#options.processMetrics },
    );
  }

  get address(): string {
    if (this.#address === undefined) {
      throw new GuildhallError(
        "failed-precondition",
        "the host's address is known once start() has resolved (it listens on a free port); await host.start() first",
      );
    }
    return this.#address;
  }

  get port(): number {
    if (this.#port === undefined) {
      throw new GuildhallError(
        "failed-precondition",
        "the host's port is known once start() has resolved; await host.start() first",
      );
    }
    return this.#port;
  }

  get metricsPort(): number | undefined {
    return this.#metricsServer?.port;
  }

  get state(): AgentHostState {
    return this.#lifecycle.state;
  }

  get agentCount(): number {
    return this.#supervisor?.agents.declared() ?? 0;
  }

  get maxAgents(): number {
    return this.#options.maxAgents;
  }

  #registration(): HostRegistration {
    return {
      address: this.address,
      maxAgents: this.#options.maxAgents,
      leaseMs: this.#options.leaseMs,
      agentTtlMs: this.#options.leaseMs * 2,
      draining: refusesAgents(this.#lifecycle.state),
    };
  }

  async start(): Promise<void> {
    if (this.state !== "created") {
      throw new GuildhallError(
        "failed-precondition",
        `start() was already called (the host is ${this.state}); create a new host to start again`,
      );
    }
    this.#lifecycle.moveTo("starting");
    try {
      await this.#startParts();
    } catch (error) {
      this.#logger.error({ err: errorMessage(error) }, "agent host failed to start");
      await this.#stopParts();
      this.#lifecycle.moveTo("closed");
      throw error;
    }
    this.#lifecycle.moveTo("serving");
    this.#logger.info(
      { address: this.address, port: this.port, metrics_port: this.metricsPort ?? null },
      "agent host serving",
    );
  }

  async #startParts(): Promise<void> {
    const options = this.#options;
    const startedAt = Date.now();
    const manager = await createAgentProcessManager({
      agentModules: options.agentModules,
      maxProcesses: options.maxProcesses,
      stopTimeoutMs: options.stopTimeoutMs,
      startTimeoutMs: options.startTimeoutMs,
      warmPoolSize: options.warmPoolSize,
      ...(options.defaultRestartPolicy !== undefined && {
        defaultRestartPolicy: options.defaultRestartPolicy,
      }),
      maxStateBytes: options.maxStateBytes,
      maxMessageBytes: this.#bus.maxMessageBytes,
      onPublish: (agent, request) => this.#requireSupervisor().publish(agent, request),
      onSchedule: (agent, request) => this.#requireSupervisor().schedule(agent, request),
      onCancelSchedule: (agent, request) =>
        this.#requireSupervisor().cancelSchedule(agent, request),
      prepareStart: (agent) => this.#requireSupervisor().prepareStart(agent.guildId, agent.agentId),
    });
    this.#manager = manager;
    const supervisor = new AgentSupervisor({
      manager,
      registry: this.#registry,
      bus: this.#bus,
      hostState: () => this.#lifecycle.state,
      maxStateBytes: options.maxStateBytes,
      mayDeliver: () => this.#heartbeat?.leaseCurrent() ?? true,
      metrics: this.#metrics,
      // Read at each use: the host's logger names the host once it listens.
      logger: () => this.#logger,
      address: () => this.address,
      stopTimeoutMs: options.stopTimeoutMs,
      recoverRegistration: () => this.#requireHeartbeat().beatNow(),
      maxAgents: options.maxAgents,
      maxProcesses: options.maxProcesses,
      hibernateAfterMs: options.hibernateAfterMs,
    });
    this.#supervisor = supervisor;

    const handler = connectNodeAdapter({
      routes: (router) => {
        router.service(
          AgentHostService,
          createAgentHostService({
            supervisor,
            manager,
            state: () => this.#lifecycle.state,
            metrics: this.#metrics,
            address: () => this.address,
            maxAgents: options.maxAgents,
            version: hostVersion(),
            startedAt,
            drain: (drainOptions) => this.drain(drainOptions),
          }),
        );
        router.service(Health, createHealthService(this.#lifecycle, this.#metrics));
      },
      interceptors: [
        createTracingInterceptor(AgentHostService.typeName),
        createMetricsInterceptor(this.#metrics),
        ...(options.token === undefined ? [] : [createAuthInterceptor(options.token)]),
        errorMappingInterceptor,
      ],
      readMaxBytes: options.maxRequestBytes,
      shutdownSignal: this.#shutdown.signal,
    });
    // Every call in flight links its own signal to this one: an engine declaring agents with 64
    // calls in flight is expected, not a leak.
    setMaxListeners(0, this.#shutdown.signal);
    const { host, port, tls } = options;
    this.#server = await listenHttp2(handler, { host, port, tls });
    this.#port = this.#server.port;
    this.#address ??= options.advertiseAddress ?? defaultAdvertiseAddress(host, this.#server.port);
    this.#logger = this.#logger.child({ host: this.#address });

    try {
      await this.#metrics.timeRegistry("register_host", () =>
        this.#registry.registerHost(this.#registration()),
      );
    } catch (error) {
      throw new GuildhallError(
        "unavailable",
        `could not register this host (${this.address}) in the location registry: ${errorMessage(error)}; check that the registry is reachable (GUILDHALL_REDIS_URL) and start the host again`,
        { cause: error },
      );
    }
    this.#heartbeat = new HeartbeatLoop({
      registry: this.#registry,
      supervisor,
      metrics: this.#metrics,
      logger: this.#logger,
      intervalMs: options.heartbeatMs,
      leaseMs: options.leaseMs,
      registration: () => this.#registration(),
    });
    if (options.metricsPort !== false) {
      this.#metricsServer = await listenMetrics(
        this.#metrics.registry,
        options.metricsHost,
        options.metricsPort,
      );
    }
    this.#heartbeat.start();
  }

  #requireSupervisor(): AgentSupervisor {
    if (this.#supervisor === undefined) {
      throw new GuildhallError("unavailable", "the agent host is not started");
    }
    return this.#supervisor;
  }

  #requireHeartbeat(): HeartbeatLoop {
    if (this.#heartbeat === undefined) {
      throw new GuildhallError("unavailable", "the agent host is not registered yet");
    }
    return this.#heartbeat;
  }

  async drain(options: DrainOptions = {}): Promise<DrainResult> {
    const supervisor = this.#supervisor;
    const state = this.state;
    if (supervisor === undefined || (state !== "serving" && state !== "draining")) {
      throw new GuildhallError(
        "failed-precondition",
        `the host is ${state}; only a started host can drain`,
      );
    }
    if (state === "serving") {
      this.#lifecycle.moveTo("draining");
      this.#drainingSince = performance.now();
      this.#handedOffBeforeDrain = supervisor.handedOff;
      this.#logger.info({ agents: this.agentCount }, "host draining: refusing new agents");
      await this.#heartbeat?.syncDraining();
    }
    const end = await this.#waitForHandOff();
    let agentsStopped = 0;
    // A host that shuts down meanwhile stops its agents itself.
    if (options.stopAgents === true && !isShuttingDown(this.state)) {
      const { timeoutMs } = options;
      agentsStopped = await supervisor.stopAll(timeoutMs === undefined ? {} : { timeoutMs });
    }
    const result: DrainResult = {
      agentsRemaining: this.agentCount,
      agentsMoved: supervisor.handedOff - this.#handedOffBeforeDrain,
      agentsStopped,
    };
    this.#logger.info(
      {
        why: end,
        agents_moved: result.agentsMoved,
        agents_stopped: result.agentsStopped,
        agents_remaining: result.agentsRemaining,
      },
      "host drained",
    );
    return result;
  }

  /** Waits while an active reconciler moves the agents away (see hand-off-wait.ts). */
  #waitForHandOff(): Promise<HandOffEnd> {
    this.#handOff ??= waitForHandOff({
      agentCount: () => this.agentCount,
      reconcilerActive: () =>
        this.#metrics.timeRegistry("reconciler_active", () => this.#registry.reconcilerActive()),
      deadline: (this.#drainingSince ?? performance.now()) + this.#options.drainTimeoutMs,
      signal: this.#closeRequested.signal,
    }).finally(() => {
      this.#handOff = undefined;
    });
    return this.#handOff;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  shutdown(): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    if (this.state === "created") {
      this.#lifecycle.moveTo("closed");
      await this.#closeOwned();
      return;
    }
    this.#closeRequested.abort();
    this.#lifecycle.moveTo("stopping");
    this.#logger.info({ agents: this.agentCount }, "agent host shutting down");
    await this.#stopParts();
    this.#lifecycle.moveTo("closed");
    this.#logger.info("agent host closed");
  }

  async #stopParts(): Promise<void> {
    await this.#heartbeat?.stop();
    const heartbeat = this.#heartbeat;
    // Placement skips the host while its agents stop; the agents' locations go with the host.
    const [reachable] = await Promise.all([
      heartbeat?.syncDraining() ?? Promise.resolve(false),
      this.#supervisor?.shutdown() ?? this.#manager?.shutdown(),
    ]);
    if (heartbeat !== undefined && !reachable) {
      // Waiting for a registry that just failed would only delay the exit past its grace.
      this.#logger.warn(
        `the registry is unreachable, so the host is not deregistered; its lease lapses by itself within ${this.#options.leaseMs} ms`,
      );
    } else if (heartbeat !== undefined) {
      try {
        const removed = await this.#metrics.timeRegistry("deregister_host", () =>
          this.#registry.deregisterHost(this.address),
        );
        this.#logger.info({ agents_removed: removed }, "host deregistered");
      } catch (error) {
        this.#logger.warn(
          { err: errorMessage(error) },
          `could not deregister the host; its lease lapses by itself within ${this.#options.leaseMs} ms`,
        );
      }
    }
    this.#shutdown.abort(new GuildhallError("unavailable", "the agent host is shutting down"));
    await Promise.all([
      this.#server?.close(this.#options.closeGraceMs),
      this.#metricsServer?.close(),
    ]);
    this.#metricsServer = undefined;
    await this.#closeOwned();
  }

  async #closeOwned(): Promise<void> {
    if (this.#ownsBus) await this.#bus.close().catch(() => undefined);
    if (this.#ownsRegistry) await this.#registry.close().catch(() => undefined);
  }

  metrics(): Promise<string> {
    return this.#metrics.registry.metrics();
  }
}

/**
 * Creates an agent host; call `start()` to serve. Nothing listens or runs until then.
 *
 * @example
 * ```ts
 * const host = createAgentHost({
 *   port: 0,
 *   agentModules: ["/srv/agents"],
 *   registry: new RedisLocationRegistry({ url: "redis://127.0.0.1:6379" }),
 *   bus: new RedisBus({ url: "redis://127.0.0.1:6379" }),
 * });
 * await host.start();
 * console.log(`serving on ${host.address}`);
 * // Hand the agents to other hosts while an engine reconciles, stop those left, then shut down.
 * process.once("SIGTERM", () => {
 *   void host.drain({ stopAgents: true }).catch(() => undefined).then(() => host.close());
 * });
 * ```
 *
 * @throws GuildhallError `invalid-argument` naming a bad option
 */
export function createAgentHost(options: AgentHostOptions = {}): AgentHost {
  return new AgentHostImpl(options);
}

/**
 * Creates an agent host and starts it; resolves once it serves and is registered.
 *
 * @throws GuildhallError as {@link createAgentHost} and {@link AgentHost.start}
 */
export async function startAgentHost(options: AgentHostOptions = {}): Promise<AgentHost> {
  const host = createAgentHost(options);
  await host.start();
  return host;
}
