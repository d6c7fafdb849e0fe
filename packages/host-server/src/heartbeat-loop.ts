// Keeps the host and its agents alive in the registry: one batched heartbeat per interval, whatever
// the number of agents. It owns the recovery: a registry that forgot the host (Redis restarted
// empty, lease lapsed) gets everything the host runs back under the epochs it holds, without
// restarting a single agent; agents the cluster gave away (fencing) are stopped here. A registry
// that is down fails heartbeats, which are logged and retried soon; it never stops an agent.
import { errorMessage } from "@guildhall/core";
import type { HostRegistration, LocationRegistry, LostAgent } from "@guildhall/registry";
import type { Logger } from "pino";
import type { AgentSupervisor } from "./agent-supervisor.js";
import type { HostMetrics } from "./metrics.js";

/** What {@link HeartbeatLoop} works with. */
export interface HeartbeatLoopDependencies {
  readonly registry: LocationRegistry;
  readonly supervisor: AgentSupervisor;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
  readonly intervalMs: number;
  /** The host as it registers itself now (address, capacity, lease, draining). */
  readonly registration: () => HostRegistration;
  /** The host's lease: how long after a renewal the registry keeps the host. */
  readonly leaseMs: number;
}

/**
 * The longest wait before the next beat after a failed one. A registry that comes back after an
 * outage longer than the lease has forgotten the host; every moment until the host's next beat
 * restores it is a moment in which a reconciler may find its agents lost and place them again.
 */
export const HEARTBEAT_RETRY_MS = 500;

/** The wait before the next beat: the interval, or a short retry while beats fail. */
export function nextBeatDelayMs(intervalMs: number, failing: boolean): number {
  return failing ? Math.min(intervalMs, HEARTBEAT_RETRY_MS) : intervalMs;
}

/** The heartbeat of one host. */
export class HeartbeatLoop {
  readonly #deps: HeartbeatLoopDependencies;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #current: Promise<void> | undefined;
  #failing = false;
  /** Whether the registry's draining flag may differ from the host's. */
  #drainingDirty = false;
  /** When the last beat that renewed the lease was sent (the host registered just before). */
  #renewedAt = performance.now();

  constructor(deps: HeartbeatLoopDependencies) {
    this.#deps = deps;
  }

  /**
   * Whether the host's lease is current: its last renewal was sent less than a lease ago. Once it
   * is not, the registry may have given the host's agents to other hosts, so the host hands its
   * agents nothing more until a beat renews it (self-fencing; their commits are fenced by epoch).
   */
  leaseCurrent(): boolean {
    return performance.now() - this.#renewedAt < this.#deps.leaseMs;
  }

  /** Beats every `intervalMs` from now on. */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /** Stops beating and waits for a beat in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#current;
  }

  /**
   * Beats now (or joins the beat in progress), restoring the host if the registry forgot it.
   * Rejects if the registry cannot be reached.
   */
  beatNow(): Promise<void> {
    this.#current ??= this.#beat().finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  /**
   * Tells the registry the host's draining flag now, or on a later beat if it cannot be reached.
   * Resolves whether the registry took it.
   */
  async syncDraining(): Promise<boolean> {
    const { registration, registry, metrics, logger } = this.#deps;
    const host = registration();
    try {
      await metrics.timeRegistry("set_host_draining", () =>
        registry.setHostDraining(host.address, host.draining === true),
      );
      this.#drainingDirty = false;
      return true;
    } catch (error) {
      this.#drainingDirty = true;
      logger.warn(
        { err: errorMessage(error) },
        "could not mark the host draining in the registry; retrying on the next heartbeat",
      );
      return false;
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.beatNow()
          .then(
            () => {
              if (this.#failing) {
                this.#failing = false;
                this.#deps.logger.info("registry reachable again; heartbeats resumed");
              }
            },
            (error: unknown) => {
              this.#deps.metrics.heartbeatFailures.inc();
              // Logged at error once per outage, then quietly, so a long outage does not flood the log.
              const fields = { err: errorMessage(error) };
              const text = "registry heartbeat failed; agents keep running, retrying shortly";
              if (this.#failing) this.#deps.logger.debug(fields, text);
              else this.#deps.logger.error(fields, text);
              this.#failing = true;
            },
          )
          .finally(() => this.#schedule());
      },
      nextBeatDelayMs(this.#deps.intervalMs, this.#failing),
    );
  }

  async #beat(): Promise<void> {
    const { registry, supervisor, metrics, logger, registration } = this.#deps;
    const host = registration();
    const sentAt = performance.now();
    const beat = await metrics.timeRegistry("heartbeat", () => registry.heartbeat(host.address));
    if (beat.status === "unknown-host") {
      logger.warn(
        "the registry does not know this host (its data was lost or the lease lapsed); restoring its agents",
      );
      await this.#restore();
    } else {
      const moved: LostAgent[] = [];
      let expired = false;
      for (const lost of beat.lost) {
        if (lost.reason === "moved") moved.push(lost);
        else expired = true;
      }
      if (moved.length > 0) await supervisor.relinquish(moved);
      if (expired) {
        logger.warn("some agent locations expired in the registry; restoring them");
        await this.#restore();
      }
      if (this.#drainingDirty) await this.syncDraining();
    }
    this.#renewedAt = sentAt;
    await supervisor.retryDeregistrations();
  }

  async #restore(): Promise<void> {
    const { registry, supervisor, metrics, logger, registration } = this.#deps;
    const running = supervisor.agents.registered();
    const result = await metrics.timeRegistry("restore_host", () =>
      registry.restoreHost(registration(), running),
    );
    this.#drainingDirty = false;
    logger.info(
      { restored: result.restored, refused: result.refused.length },
      "host restored in the registry",
    );
    if (result.refused.length > 0) await supervisor.relinquish(result.refused);
  }
}
