// A redis-server that keeps its data the way the deploy manifests tell operators to: an
// append-only file in a directory of its own, so a scenario can SIGKILL it and start it again on
// the same port and directory and get back everything it had acknowledged.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RedisTestServer } from "../../../../tools/redis/redis-server.js";

/** A {@link RedisTestServer} whose restarts load its append-only file. */
export interface AofRedisServer extends RedisTestServer {
  /** The directory of its append-only file. */
  readonly dir: string;
}

const READY_LINE = /Ready to accept connections/;
const START_TIMEOUT_MS = 15_000;

function launch(port: number, bind: string, dir: string): Promise<ChildProcess> {
  const bin = process.env["REDIS_SERVER_BIN"] ?? "redis-server";
  // `appendfsync always`: Redis fsyncs each write before it replies, so every write a client saw
  // acknowledged survives a SIGKILL and the scenario can assert exact counts. The deploy default
  // `everysec` may lose about the last second of acknowledged writes (docs/operations.md).
  const child = spawn(
    bin,
    [
      "--port",
      String(port),
      "--bind",
      bind,
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
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
          `redis-server (AOF in ${dir}) was not ready within ${START_TIMEOUT_MS} ms:\n${output}`,
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
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
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

/** Starts redis-server with an append-only file in a new directory; `stop` removes it. */
export async function startAofRedisServer(
  options: { bind?: string } = {},
): Promise<AofRedisServer> {
  const bind = options.bind ?? "127.0.0.1";
  const dir = mkdtempSync(join(tmpdir(), "guildhall-faults-aof-"));
  let lastError: unknown;
  // Another process can take the port between freePort() and redis binding it; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child: ChildProcess | undefined = await launch(port, bind, dir);
      return {
        url: `redis://${bind}:${port}`,
        port,
        dir,
        get pid() {
          return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
        },
        async stop() {
          await terminate(child, "SIGTERM");
          child = undefined;
          rmSync(dir, { recursive: true, force: true });
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
    } catch (error) {
      lastError = error;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
