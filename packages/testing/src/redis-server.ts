// Starts a private redis-server for tests, on a free port of its own, so a test can stop, restart
// or kill it without disturbing anything else on the machine.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

/** A redis-server process owned by a test. */
export interface RedisTestServer {
  /** `redis://<bind address>:<port>` (127.0.0.1 unless another address was asked for). */
  readonly url: string;
  /** The TCP port it listens on; it keeps it across `stop()`/`kill()` and `start()`. */
  readonly port: number;
  /** The pid of the running server, or undefined while it is stopped. */
  readonly pid: number | undefined;
  /**
   * Stops the server (SIGTERM) and waits for it to exit. Keeps nothing: it runs without
   * persistence, or removes its append-only directory.
   */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same port: empty, or from its append-only file. */
  start(): Promise<void>;
  /** Pauses the server (SIGSTOP) so clients see it hang rather than refuse. */
  pause(): void;
  /** Resumes a paused server (SIGCONT). */
  resume(): void;
}

const READY_LINE = /Ready to accept connections/;
const START_TIMEOUT_MS = 10_000;

function launch(
  port: number,
  bind: string,
  appendOnlyDir: string | undefined,
): Promise<ChildProcess> {
  const bin = process.env["REDIS_SERVER_BIN"] ?? "redis-server";
  // `appendfsync always`: Redis fsyncs each write before it replies, so every write a client saw
  // acknowledged survives a SIGKILL and a test can assert exact counts. The deploy default
  // `everysec` may lose about the last second of acknowledged writes (docs/operations.md).
  const persistence =
    appendOnlyDir === undefined
      ? ["--appendonly", "no"]
      : ["--dir", appendOnlyDir, "--appendonly", "yes", "--appendfsync", "always"];
  const child = spawn(
    bin,
    [
      "--port",
      String(port),
      "--bind",
      bind,
      "--save",
      "",
      ...persistence,
      "--protected-mode",
      "no",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `redis-server did not become ready on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`,
        ),
      );
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (READY_LINE.test(output)) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === "ENOENT"
          ? new Error(
              `redis-server was not found (looked for '${bin}' on PATH). Install it (Debian: ` +
                "apt-get install redis-server), set REDIS_SERVER_BIN to its path, or set REDIS_URL " +
                "to a Redis server the tests may use.",
            )
          : error,
      );
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `redis-server exited before it was ready (code ${code}, signal ${signal}):\n${output}`,
        ),
      );
    });
  });
}

async function terminate(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGCONT");
  child.kill(signal);
  await exited;
}

/** Options of {@link startRedisServer}. */
export interface RedisTestServerOptions {
  /**
   * The address to listen on, e.g. a bridge address that processes in other network namespaces
   * reach. Default 127.0.0.1.
   */
  readonly bind?: string;
  /**
   * Keep the data in an append-only file (`appendfsync always`) in a new temporary directory, so
   * a `kill()` then `start()` gets back every write that was acknowledged; `stop()` removes it.
   * Default false: no persistence.
   */
  readonly appendOnly?: boolean;
}

/**
 * Starts a private redis-server (`redis-server` on the PATH, or `REDIS_SERVER_BIN`) on a free port
 * and resolves once it accepts connections. The test owns it: it may stop, kill, pause and restart
 * it, and must `stop()` it at the end.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer({ appendOnly: true });
 * try {
 *   // ... connect to redis.url, then redis.kill() and redis.start() to test a crash of Redis
 * } finally {
 *   await redis.stop();
 * }
 * ```
 */
export async function startRedisServer(
  options: RedisTestServerOptions = {},
): Promise<RedisTestServer> {
  const bind = options.bind ?? "127.0.0.1";
  const dir =
    options.appendOnly === true ? mkdtempSync(join(tmpdir(), "guildhall-redis-aof-")) : undefined;
  const removeDir = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  // Another process can take the port between freePort() and redis binding it; try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child: ChildProcess | undefined = await launch(port, bind, dir);
      const server: RedisTestServer = {
        url: `redis://${bind}:${port}`,
        port,
        get pid() {
          return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
        },
        async stop() {
          await terminate(child, "SIGTERM");
          child = undefined;
          removeDir();
        },
        async kill() {
          await terminate(child, "SIGKILL");
          child = undefined;
        },
        async start() {
          if (child !== undefined)
            throw new Error(`redis-server on port ${port} is already running`);
          child = await launch(port, bind, dir);
        },
        pause() {
          child?.kill("SIGSTOP");
        },
        resume() {
          child?.kill("SIGCONT");
        },
      };
      return server;
    } catch (error) {
      lastError = error;
      if (error instanceof Error && error.message.includes("was not found")) break;
    }
  }
  removeDir();
  throw lastError;
}
