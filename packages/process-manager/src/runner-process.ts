// The host's handle on one forked agent runner: typed, validated IPC in both directions, its exit
// as a promise, and its output split into lines. Used for pool processes and agents alike; a pool
// process becomes an agent's by `attach`.
import { fork, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { GuildhallError } from "@guildhall/core";
import { PROTOCOL_VERSION } from "./ipc-constants.js";
import { FrameBatcher, isFrameBatch } from "./frame-batch.js";
import { describeIssues, RunnerToHost, type HostToRunner } from "./ipc-protocol.js";
import { LineSplitter } from "./line-splitter.js";
import type { LogStream } from "./log-buffer.js";
import type { ProcessExit } from "./restart-policy.js";
import * as frameValidators from "./runner-frame-validators.js";

/**
 * Whether `raw` is a valid `delivered` frame, by the function the build compiles from its schema.
 * Every handled message sends one, and this takes about an eighth of zod's time; a frame it
 * refuses is judged, and the refusal worded, by zod.
 */
export function isDeliveredFrame(
  raw: unknown,
): raw is Extract<RunnerToHost, { type: "delivered" }> {
  return frameValidators.delivered(raw);
}

/** How to fork a runner. */
export interface RunnerForkOptions {
  readonly runnerUrl: URL;
  /** Arguments of the runner program. */
  readonly args: readonly string[];
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly maxLineChars: number;
}

/** What the owner of a runner process hears from it. */
export interface RunnerHandlers {
  /** A valid message (other than `hello`, which resolves {@link RunnerProcess.hello}). */
  message(message: RunnerToHost): void;
  /** A message that failed validation, described, and as received. */
  invalid(description: string, raw: unknown): void;
  /** A line of stdout or stderr. */
  line(stream: LogStream, text: string): void;
}

// Lines a pool process writes before it belongs to an agent are kept for that agent's log.
const MAX_EARLY_LINES = 200;

/** One forked agent runner process, seen from the host. */
export class RunnerProcess {
  /** The OS process id. */
  readonly pid: number;
  /** When it was forked, in milliseconds since the Unix epoch. */
  readonly forkedAt = Date.now();
  /** Resolves when the runner reports in (core loaded, waiting for `start`); rejects if it exits first. */
  readonly hello: Promise<void>;
  /** Resolves when the process has exited (and been reaped). */
  readonly exited: Promise<ProcessExit>;
  /** How it ended, once it has. */
  exit: ProcessExit | undefined;

  readonly #child: ChildProcess;
  /** Deliveries of this turn, written together. */
  readonly #deliveries: FrameBatcher<HostToRunner>;
  #handlers: RunnerHandlers | undefined;
  #roundTrip: (() => void) | undefined;
  readonly #early: { stream: LogStream; text: string }[] = [];

  /** Takes over a forked runner; {@link RunnerProcess.fork} is how to make one. */
  constructor(child: ChildProcess, pid: number, maxLineChars: number) {
    this.#child = child;
    this.pid = pid;
    this.#deliveries = new FrameBatcher((frame) => {
      // The channel may have closed since the frames were queued: they went with the process.
      if (child.connected) child.send(frame, () => undefined);
    });
    let helloResolve!: () => void;
    let helloReject!: (error: Error) => void;
    this.hello = new Promise<void>((resolve, reject) => {
      helloResolve = resolve;
      helloReject = reject;
    });
    // Owners that never wait for hello must not see an unhandled rejection.
    this.hello.catch(() => undefined);

    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once("exit", (exitCode, signal) => {
        const exit = { exitCode, signal };
        const settle = (): void => {
          this.exit = exit;
          helloReject(
            new GuildhallError(
              "internal",
              `agent process ${pid} exited (${describeExit(exit)}) before it reported in`,
            ),
          );
          resolve(exit);
        };
        // Messages sent just before exiting (a startup failure) can still be in the channel when
        // 'exit' fires; they are all delivered before 'disconnect'.
        if (child.connected) child.once("disconnect", settle);
        else settle();
      });
    });
    // A failed send or kill is reported as 'error'; without a listener it would crash the host.
    child.on("error", () => undefined);

    // One frame from the runner, alone or out of a batch.
    const receive = (raw: unknown): void => {
      let message: RunnerToHost;
      if (isDeliveredFrame(raw)) {
        message = raw;
      } else {
        const parsed = RunnerToHost.safeParse(raw);
        if (!parsed.success) {
          this.#handlers?.invalid(describeIssues(parsed.error), raw);
          return;
        }
        message = parsed.data;
      }
      if (message.type === "hello") {
        if (message.protocol === PROTOCOL_VERSION) helloResolve();
        else {
          helloReject(
            new GuildhallError(
              "internal",
              `agent runner speaks IPC protocol ${message.protocol}, the host ${PROTOCOL_VERSION}; reinstall @guildhall/process-manager`,
            ),
          );
          this.kill("SIGKILL");
        }
        return;
      }
      // Before an owner attaches, the only question asked is roundTrip's.
      if (message.type === "stats" && this.#handlers === undefined) {
        const answered = this.#roundTrip;
        this.#roundTrip = undefined;
        answered?.();
        return;
      }
      this.#handlers?.message(message);
    };
    child.on("message", (raw: unknown) => {
      if (isFrameBatch(raw)) for (const frame of raw.frames) receive(frame);
      else receive(raw);
    });

    for (const stream of ["stdout", "stderr"] as const) {
      const readable = child[stream];
      if (readable === null) continue;
      readable.setEncoding("utf8");
      const splitter = new LineSplitter(maxLineChars, (text) => this.#line(stream, text));
      readable.on("data", (chunk: string) => splitter.push(chunk));
      readable.on("end", () => splitter.end());
    }
  }

  /**
   * Forks a runner. It starts loading @guildhall/core at once and reports `hello` when ready for
   * `start`. The environment is exactly `options.env`: the host's own (credentials included) is
   * not inherited.
   *
   * @throws GuildhallError `resource-exhausted` when the OS refuses to create the process
   */
  static fork(options: RunnerForkOptions): RunnerProcess {
    const child = fork(options.runnerUrl, [...options.args], {
      execArgv: [...options.execArgv],
      env: { ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    if (child.pid === undefined) {
      child.on("error", () => undefined);
      throw new GuildhallError(
        "resource-exhausted",
        "could not fork an agent process (the OS refused: out of memory or process slots?); free resources or lower maxProcesses",
      );
    }
    return new RunnerProcess(child, child.pid, options.maxLineChars);
  }

  /** Whether the IPC channel is open (false from the moment the process starts going away). */
  get connected(): boolean {
    return this.exit === undefined && this.#child.connected;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.exit === undefined;
  }

  /**
   * Resolves once the runner, reported in and not yet attached, has answered a stats request:
   * both directions of its channel work. A process's first received message costs it about a
   * millisecond more than later ones (Node.js compiles its IPC receive path on first use), so a
   * pool runner pays that here instead of on the spawn that takes it.
   *
   * @throws GuildhallError `internal` when the process exits first
   */
  async roundTrip(): Promise<void> {
    await this.hello;
    await new Promise<void>((resolve, reject) => {
      this.#roundTrip = resolve;
      // A channel already closed means the process is going away: its exit rejects.
      this.send({ type: "stats-request", requestId: 0 });
      void this.exited.then((exit) =>
        reject(
          new GuildhallError(
            "internal",
            `agent process ${this.pid} exited (${describeExit(exit)}) before it answered`,
          ),
        ),
      );
    });
  }

  /** Routes this process's messages and output to `handlers`, first replaying early output. */
  attach(handlers: RunnerHandlers): void {
    this.#handlers = handlers;
    for (const { stream, text } of this.#early.splice(0)) handlers.line(stream, text);
  }

  /**
   * Sends a message; false when the channel is already closed (the process is going away).
   * Deliveries of one turn go together (see frame-batch.ts); any other message goes at once,
   * after them.
   */
  send(message: HostToRunner): boolean {
    if (!this.#child.connected) return false;
    if (message.type === "deliver") {
      this.#deliveries.push(message);
      return true;
    }
    this.#deliveries.flush();
    this.#child.send(message, () => undefined);
    return true;
  }

  /** Sends a signal; a no-op once the process has exited. */
  kill(signal: NodeJS.Signals): void {
    if (this.exit === undefined) this.#child.kill(signal);
  }

  /**
   * Whether this process keeps the host's event loop alive. Idle pool processes do not (a host
   * that forgot to shut down still exits); agents do.
   */
  setRef(ref: boolean): void {
    const handles: ({ ref(): unknown; unref(): unknown } | null | undefined)[] = [
      this.#child,
      this.#child.channel,
      this.#child.stdout as (Readable & { ref(): unknown; unref(): unknown }) | null,
      this.#child.stderr as (Readable & { ref(): unknown; unref(): unknown }) | null,
    ];
    for (const handle of handles) {
      if (handle === null || handle === undefined) continue;
      if (ref) handle.ref();
      else handle.unref();
    }
  }

  #line(stream: LogStream, text: string): void {
    if (this.#handlers !== undefined) this.#handlers.line(stream, text);
    else if (this.#early.length < MAX_EARLY_LINES) this.#early.push({ stream, text });
  }
}

/** "code 1", "signal SIGKILL": how a process ended, for messages. */
export function describeExit(exit: ProcessExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.exitCode ?? "unknown"}`;
}
