// Moves a running agent from its host to another (DESIGN section 14): stop it where it runs,
// keeping its durable state, then create it on the target, which claims that state under a newer
// placement epoch. Stop first, then create: at no moment do two copies take messages, and the
// epoch fences whatever a copy that could not be reached might still try to commit. The engine
// holds the agent's lock around a move, so its own reconciler never places the agent meanwhile.
import { GuildhallError, type AgentLogger, type AgentSpec } from "@guildhall/core";
import type { HostDiscovery } from "@guildhall/placement";
import type { AgentLocation, GuildContext, LocationRegistry } from "@guildhall/registry";
import type { AgentPlacer, PlaceOptions, Placed } from "./agent-placer.js";
import { toGuildhallError } from "./error-mapping.js";
import type { HostClients } from "./host-clients.js";
import { checkMoveTarget } from "./move-target.js";
import { PlacementRun } from "./placement-run.js";
import type { ResolvedRetryOptions } from "./retry-policy.js";
import { stopOnHost } from "./stop-on-host.js";

/** What {@link AgentMover} reads and calls. */
export interface AgentMoverOptions {
  readonly registry: LocationRegistry;
  readonly discovery: HostDiscovery;
  readonly placer: AgentPlacer;
  readonly clients: HostClients;
  readonly retry: ResolvedRetryOptions;
  /** The budget of each host call, and of the start on the new host. */
  readonly rpcTimeoutMs: number;
  readonly logger: AgentLogger;
  /** Ends the checks made before anything changed (the engine shuts down). */
  readonly signal: AbortSignal;
  /** Told where the agent runs after a move, or after a failed move put it back somewhere. */
  readonly placed: (guildId: string, agentId: string, address: string) => void;
}

/** A move that happened. */
export interface Moved {
  readonly from: string;
  readonly to: string;
}

/** The desired-state record of a running agent: what its next host is asked to run. */
interface MoveSubject {
  readonly guild: GuildContext;
  readonly spec: AgentSpec;
  readonly location: AgentLocation;
  /** Declared asleep: placed asleep wherever it goes. */
  readonly lazy: boolean;
}

/**
 * A signal no shutdown aborts: once an agent is stopped for a move, it is started again whatever
 * happens to the engine (shutdown waits for it), or it would stay stopped until a reconciler
 * noticed.
 */
const UNTIL_DONE = new AbortController().signal;

/** Moves agents between hosts; one move per agent at a time (the engine's lock sees to it). */
export class AgentMover {
  readonly #options: AgentMoverOptions;

  constructor(options: AgentMoverOptions) {
    this.#options = options;
  }

  /**
   * Moves the agent to `toHost`, or to a host placement picks other than its own. Everything is
   * checked before the agent is stopped, so a refused move changes nothing.
   *
   * When the start on the new host fails after the stop, the agent is placed again (on its old
   * host if it can, else wherever placement finds room) and the move still rejects, with the code
   * of the failure and a message naming where the agent runs now: the caller asked for a move
   * that did not happen.
   *
   * @throws GuildhallError see {@link ClusterExecutionEngine.moveAgent}
   */
  async move(guildId: string, agentId: string, toHost: string | undefined): Promise<Moved> {
    const subject = await this.#subject(guildId, agentId);
    const from = subject.location.hostAddress;
    const { registry, discovery, rpcTimeoutMs, signal } = this.#options;
    const checks = new PlacementRun(agentId, rpcTimeoutMs, signal);
    await checks.within(discovery.ready());
    const live = await checks.within(registry.listHosts());
    checkMoveTarget({ guildId, agentId, from }, toHost, discovery.hosts(), live);

    await this.#stopKeepingState(subject.location);

    const run = new PlacementRun(agentId, rpcTimeoutMs, UNTIL_DONE);
    let placed: Placed;
    try {
      placed = await this.#options.placer.place(
        subject.guild,
        subject.spec,
        run,
        toHost === undefined
          ? { exclude: new Set([from]), lazy: subject.lazy }
          : { only: toHost, lazy: subject.lazy },
      );
    } catch (thrown) {
      throw await this.#putBack(subject, toHost, thrown);
    }
    this.#options.placed(guildId, agentId, placed.address);
    return { from, to: placed.address };
  }

  /** The running, desired agent, or why it cannot be moved. */
  async #subject(guildId: string, agentId: string): Promise<MoveSubject> {
    const { registry } = this.#options;
    const [location, wanted] = await Promise.all([
      registry.getLocation(guildId, agentId),
      registry.getDesiredAgent(guildId, agentId),
    ]);
    if (location === undefined) {
      throw new GuildhallError(
        "not-found",
        wanted === undefined
          ? `agent "${agentId}" is not running in guild "${guildId}"; nothing to move (list the guild's agents to see what runs)`
          : `agent "${agentId}" of guild "${guildId}" is not running right now (its host was lost or it ended); nothing to move: a reconciling engine places it again`,
      );
    }
    if (wanted === undefined) {
      throw new GuildhallError(
        "failed-precondition",
        `agent "${agentId}" of guild "${guildId}" runs on host ${location.hostAddress} but no engine recorded it as desired (it was created on the host directly), so no engine knows its guild well enough to start it elsewhere; stop it and run it through an engine`,
      );
    }
    return { guild: wanted.guild, spec: wanted.spec, location, lazy: wanted.lazy === true };
  }

  /**
   * Stops the agent on its host, keeping its durable state and read positions. The host finishes
   * and commits the message in progress first (or kills a handler stuck past its stop timeout,
   * whose message the next copy handles). A host that answers `unavailable` is asked again.
   *
   * @throws GuildhallError when the agent may still run where it was: nothing was moved
   */
  async #stopKeepingState(location: AgentLocation): Promise<void> {
    const { clients, retry, rpcTimeoutMs } = this.#options;
    const error = await stopOnHost(location, { clients, retry, rpcTimeoutMs, keepState: true });
    if (error !== undefined) await this.#afterFailedStop(location, error);
  }

  /**
   * A stop that failed may still have happened (the answer was lost, the host died): the
   * registry tells. Still placed there under the same epoch: nothing changed, and the move is
   * refused. Gone: the agent stopped, so the move goes on, or it would stay stopped.
   */
  async #afterFailedStop(location: AgentLocation, error: GuildhallError): Promise<void> {
    const { guildId, agentId, hostAddress } = location;
    const now = await this.#options.registry.getLocation(guildId, agentId).catch(() => location);
    const what = `cannot move agent "${agentId}" of guild "${guildId}" from host ${hostAddress}`;
    if (now === undefined) {
      this.#options.logger.warn(
        "stopping an agent to move it failed, but its location is gone: starting it on its new host",
        { guild_id: guildId, agent_id: agentId, host: hostAddress, err: error.message },
      );
      return;
    }
    if (now.epoch === location.epoch) {
      throw new GuildhallError(
        error.code,
        `${what}: stopping it there failed (${error.message}); it still runs there and nothing was moved`,
        { cause: error },
      );
    }
    throw new GuildhallError(
      "aborted",
      `${what}: it was placed again elsewhere meanwhile (now on host ${now.hostAddress}, by another engine); nothing more was done`,
      { cause: error },
    );
  }

  /**
   * The start on the new host failed after the agent was stopped: it is placed again, first on
   * its old host (which ran it a moment ago, so allows its module and has its slot free), else
   * wherever placement finds room but the refusing target. Returns the error the move rejects
   * with, naming where the agent runs now.
   */
  async #putBack(
    subject: MoveSubject,
    toHost: string | undefined,
    thrown: unknown,
  ): Promise<GuildhallError> {
    const { guild, spec, location } = subject;
    const from = location.hostAddress;
    const error = toGuildhallError(thrown, {
      host: toHost ?? "(placement)",
      method: "CreateAgent",
    });
    const target = toHost === undefined ? "another host" : `host ${toHost}`;
    const what = `cannot move agent "${spec.id}" of guild "${guild.id}" from host ${from}`;
    this.#options.logger.warn(
      "starting a moved agent on its new host failed; placing it again, on its old host if it can",
      { guild_id: guild.id, agent_id: spec.id, err: error.message },
    );
    const attempts: PlaceOptions[] = [
      { only: from, lazy: subject.lazy },
      toHost === undefined
        ? { lazy: subject.lazy }
        : { exclude: new Set([toHost]), lazy: subject.lazy },
    ];
    let last: GuildhallError = error;
    for (const attempt of attempts) {
      const run = new PlacementRun(spec.id, this.#options.rpcTimeoutMs, UNTIL_DONE);
      try {
        const placed = await this.#options.placer.place(guild, spec, run, attempt);
        this.#options.placed(guild.id, spec.id, placed.address);
        const where = placed.address === from ? `its old host ${from}` : `host ${placed.address}`;
        return new GuildhallError(
          error.code,
          `${what}: starting it on ${target} failed (${error.message}); it runs on ${where} again, from the state it committed`,
          { cause: error },
        );
      } catch (fallback) {
        last = toGuildhallError(fallback, { host: "(placement)", method: "CreateAgent" });
      }
    }
    this.#options.logger.error(
      "a moved agent could not be started on any host; it stays wanted for a reconciler",
      { guild_id: guild.id, agent_id: spec.id, err: last.message },
    );
    return new GuildhallError(
      error.code,
      `${what}: starting it on ${target} failed (${error.message}), and so did starting it again anywhere else (${last.message}); it is not running now but stays wanted, with its state: a reconciling engine places it again once a host can take it`,
      { cause: error },
    );
  }
}
