// Agent hosts as production runs them, for tests: `guildhall host` processes of the built CLI on
// free loopback ports, configured through the environment as a container would be.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

/** An agent host running as a `guildhall host` process. */
export interface HostProcess {
  readonly address: string;
  readonly pid: number;
  /** The port of the host's `/metrics` (on its bind address); undefined when it serves none. */
  readonly metricsPort: number | undefined;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /**
   * SIGKILLs the host's whole process group, its agents with it, and waits for the host to exit.
   * Needs `processGroup`.
   */
  killGroup(): Promise<void>;
}

/** Settings of a `guildhall host` process, as its environment carries them. */
export interface HostProcessOptions {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly agentModules: readonly string[];
  readonly maxAgents?: number;
  readonly maxProcesses?: number;
  readonly heartbeatMs?: number;
  readonly leaseMs?: number;
  /** Also append the host's log lines to this file, to look into a failure. Default: none. */
  readonly logFile?: string;
  /** The address to listen on, which the host also advertises. Default 127.0.0.1. */
  readonly bind?: string;
  /** A command the host runs under, e.g. `["ip", "netns", "exec", "<ns>"]`. Default: none. */
  readonly commandPrefix?: readonly string[];
  /** Start the host as the leader of a process group of its own (see `killGroup`). Default false. */
  readonly processGroup?: boolean;
  /** More environment of the host, e.g. `GUILDHALL_TLS_CERT`. Default: none. */
  readonly env?: Readonly<Record<string, string>>;
  /** Serve `/metrics` on this port (0 picks a free one). Default: no metrics. */
  readonly metricsPort?: number;
}

// Found through the workspace package, so that this file also works compiled elsewhere (tools/bench).
const CLI_BIN = join(
  dirname(createRequire(import.meta.url).resolve("@guildhall/cli/package.json")),
  "dist",
  "bin.js",
);

/**
 * Starts `guildhall host` (the built CLI) on a free loopback port and resolves with its address
 * once it serves, read from its "agent host serving" log line.
 */
export async function startHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  if (!existsSync(CLI_BIN)) {
    throw new Error(`${CLI_BIN} is missing: build the CLI first (npx nx build @guildhall/cli)`);
  }
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    GUILDHALL_REDIS_URL: options.redisUrl,
    GUILDHALL_KEY_PREFIX: options.keyPrefix,
    GUILDHALL_PORT: "0",
    GUILDHALL_BIND: options.bind ?? "127.0.0.1",
    GUILDHALL_AGENT_MODULES: options.agentModules.join(","),
    GUILDHALL_STOP_TIMEOUT_MS: "5000",
    LOG_LEVEL: "info",
    ...options.env,
  };
  if (options.maxAgents !== undefined) env["GUILDHALL_MAX_AGENTS"] = String(options.maxAgents);
  if (options.maxProcesses !== undefined) {
    env["GUILDHALL_MAX_PROCESSES"] = String(options.maxProcesses);
  }
  if (options.heartbeatMs !== undefined)
    env["GUILDHALL_HEARTBEAT_MS"] = String(options.heartbeatMs);
  if (options.leaseMs !== undefined) env["GUILDHALL_LEASE_MS"] = String(options.leaseMs);
  const [command, ...args] = [
    ...(options.commandPrefix ?? []),
    process.execPath,
    CLI_BIN,
    "host",
    options.metricsPort === undefined ? "--no-metrics" : `--metrics-port=${options.metricsPort}`,
  ];
  const child: ChildProcess = spawn(command, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.processGroup === true,
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = once(child, "exit");
  let metricsPort: number | undefined;
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`guildhall host did not serve within 30 s:\n${stderr}`));
    }, 30_000);
    // The log keeps flowing after the address is known; reading it on stops the pipe filling up.
    lines.on("line", (line) => {
      if (options.logFile !== undefined) appendFileSync(options.logFile, `${line}\n`);
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          address?: string;
          metrics_port?: number | null;
        };
        if (entry.msg === "agent host serving" && typeof entry.address === "string") {
          clearTimeout(timer);
          metricsPort = entry.metrics_port ?? undefined;
          resolve(entry.address);
        }
      } catch {
        // Not a log line.
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`guildhall host exited (code ${code}, signal ${signal}):\n${stderr}`));
    });
  });
  return {
    address,
    pid: child.pid!,
    metricsPort,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
    async killGroup() {
      if (options.processGroup !== true) throw new Error("killGroup needs processGroup: true");
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, "SIGKILL");
      await exited;
    },
  };
}
