// The bare processes of the relay and n:n figures (bare-relay-child.mjs, bare-pinger-child.mjs),
// started from the bench: each a Node.js child with plain ioredis on the streams a RedisBus would
// use for the same topics, so that the bench's clients and agents read what they write.
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import type { Quiet } from "./clusters.js";
import { benchFile } from "./paths.js";
import type { Teardown } from "./teardown.js";

/** The longest a bare child may take to answer before the run fails rather than hang. */
const ANSWER_TIMEOUT_MS = 60_000;

/**
 * The stream of `topic` in guild `guildId` of a RedisBus with key prefix `prefix`: the key layout
 * of packages/bus-redis/src/keys.ts (the package README's "Key layout"), which the package does
 * not export.
 */
export function busStreamKey(prefix: string, guildId: string, topic: string): string {
  return `${prefix}bus:{${guildId}}:${topic}`;
}

/** A route of bare-relay-child.mjs: each entry of `from` is answered on `to` (topic `topic`). */
export interface BareRoute {
  readonly from: string;
  readonly to: string;
  readonly topic: string;
  readonly sender: string;
}

/** A pair of bare-pinger-child.mjs: pings go to `ping` (topic `topic`), pongs come on `pong`. */
export interface BarePair {
  readonly ping: string;
  readonly topic: string;
  readonly sender: string;
  readonly pong: string;
}

/** A bare child, reading its streams. */
export class BareChild {
  readonly #child: ChildProcess;
  readonly #name: string;
  readonly #exited: Promise<unknown>;
  readonly #quiet: Quiet;
  #stopping: Promise<void> | undefined;

  private constructor(child: ChildProcess, name: string, quiet: Quiet) {
    this.#child = child;
    this.#name = name;
    this.#exited = once(child, "exit");
    this.#quiet = quiet;
  }

  /**
   * Forks `script` of tools/bench with `args` and resolves once it reads its streams. Stopped by
   * `teardown`; counted by `quiet` as infrastructure (not an agent) while it runs.
   */
  static async start(
    teardown: Teardown,
    quiet: Quiet,
    name: string,
    script: string,
    args: readonly string[],
  ): Promise<BareChild> {
    const child = fork(benchFile(script), args, {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const bare = new BareChild(child, name, quiet);
    teardown.add(name, () => bare.stop());
    if (child.pid !== undefined) quiet.infrastructure.add(child.pid);
    await bare.#answer();
    return bare;
  }

  /** Sends `request` over IPC and resolves with the child's answer. */
  ask(request: object): Promise<Record<string, unknown>> {
    const answered = this.#answer();
    this.#child.send(request);
    return answered;
  }

  /** The child's next IPC message; fails if it exits or takes over a minute first. */
  async #answer(): Promise<Record<string, unknown>> {
    const [message] = (await Promise.race([
      once(this.#child, "message", { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) }).catch(() => {
        throw new Error(`the ${this.#name} did not answer within ${ANSWER_TIMEOUT_MS} ms`);
      }),
      this.#exited.then(() => {
        throw new Error(`the ${this.#name} exited (code ${this.#child.exitCode})`);
      }),
    ])) as [Record<string, unknown>];
    return message;
  }

  /** Ends the child and waits for its exit. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#child.pid !== undefined) this.#quiet.infrastructure.delete(this.#child.pid);
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
      this.#child.kill("SIGTERM");
      await this.#exited;
    })();
    return this.#stopping;
  }
}

/** Starts bare-relay-child.mjs on `routes` of the Redis at `redisUrl`. */
export function startBareRelay(
  teardown: Teardown,
  quiet: Quiet,
  redisUrl: string,
  routes: readonly BareRoute[],
): Promise<BareChild> {
  return BareChild.start(teardown, quiet, "bare relay", "bare-relay-child.mjs", [
    redisUrl,
    JSON.stringify(routes),
  ]);
}

/** Starts bare-pinger-child.mjs on `pairs` of the Redis at `redisUrl`. */
export function startBarePinger(
  teardown: Teardown,
  quiet: Quiet,
  redisUrl: string,
  pairs: readonly BarePair[],
): Promise<BareChild> {
  return BareChild.start(teardown, quiet, "bare pinger", "bare-pinger-child.mjs", [
    redisUrl,
    JSON.stringify(pairs),
  ]);
}
