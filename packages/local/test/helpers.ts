// Shared by the tests of this package: the fixture agents, process accounting from /proc, waits
// bounded by deadlines (never fixed sleeps), and hosts started as `guildhall host` processes.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { AgentSpec, GuildSpec } from "@guildhall/core";
import { expect } from "vitest";

/** The fixture agents directory (an allowlist entry). */
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));

/** An agent spec of a fixture class (`Echo`, `FailingStart`). */
export function fixtureSpec(
  id: string,
  className = "Echo",
  extra: Partial<AgentSpec> = {},
): AgentSpec {
  return { id, name: `Agent ${id}`, className: `${FIXTURES}/agents.mjs#${className}`, ...extra };
}

/** A guild with a unique id and no agents. */
export function newGuild(label: string): GuildSpec {
  return { id: `${label}-${Math.random().toString(36).slice(2, 8)}`, name: label, agents: [] };
}

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live process (zombies count as gone). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** The parent of a live process, or undefined. */
export function parentOf(pid: number): number | undefined {
  return isRunning(pid) ? readStat(pid)?.ppid : undefined;
}

/** Live processes whose parent is `parent` (default: this test process). */
export function childPids(parent = process.pid): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (readStat(pid)?.ppid === parent && isRunning(pid)) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** Polls `probe` until it returns something other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why =
        lastError === undefined
          ? ""
          : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Fails if processes started by this test process are still running, ignoring `expected`. */
export async function expectNoLeakedProcesses(expected: readonly number[] = []): Promise<void> {
  const left = () => childPids().filter((pid) => !expected.includes(pid));
  // Processes being reaped right now get a moment; a real leak stays.
  await waitFor("child processes to exit", () => left().length === 0, 10_000).catch(
    () => undefined,
  );
  expect(left(), "processes leaked by the test").toEqual([]);
}

/** The code of a rejection, failing the test if the promise resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(Error);
  return error as Error & { code?: string };
}

/** An agent host running as a `guildhall host` process. */
export interface HostProcess {
  readonly address: string;
  readonly pid: number;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Settings of a `guildhall host` process, as its environment carries them. */
export interface HostProcessOptions {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly agentModules: readonly string[];
  readonly maxAgents?: number;
  readonly heartbeatMs?: number;
  readonly leaseMs?: number;
  /** Also append the host's log lines to this file, to look into a failure. Default: none. */
  readonly logFile?: string;
}

const CLI_BIN = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url));

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
    GUILDHALL_BIND: "127.0.0.1",
    GUILDHALL_AGENT_MODULES: options.agentModules.join(","),
    GUILDHALL_STOP_TIMEOUT_MS: "5000",
    LOG_LEVEL: "info",
  };
  if (options.maxAgents !== undefined) env["GUILDHALL_MAX_AGENTS"] = String(options.maxAgents);
  if (options.heartbeatMs !== undefined)
    env["GUILDHALL_HEARTBEAT_MS"] = String(options.heartbeatMs);
  if (options.leaseMs !== undefined) env["GUILDHALL_LEASE_MS"] = String(options.leaseMs);
  const child: ChildProcess = spawn(process.execPath, [CLI_BIN, "host", "--no-metrics"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = once(child, "exit");
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
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === "agent host serving" && typeof entry.address === "string") {
          clearTimeout(timer);
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
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
