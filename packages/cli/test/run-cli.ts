// Runs the built `guildhall` bin as its own process, the way a person or a script does, and
// collects what it printed and how it exited.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built executable under test. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

/** The repository root: where the README's commands run from. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** How a `guildhall` run ended. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
}

/** The environment without anything that could point the command elsewhere. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(GUILDHALL_|REDIS_URL$|LOG_LEVEL$)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** A `guildhall` process still running, and what it printed so far. */
export interface RunningCli {
  readonly pid: number;
  /** Sends `signal` to the process. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves once stdout contains `text`; rejects if the process exits first. */
  waitForOutput(text: string): Promise<void>;
  /** What it printed on stdout so far. */
  output(): string;
  /** Resolves when the process has exited and its output is read. */
  readonly result: Promise<CliResult>;
}

/** Options of {@link startCli} and {@link runCli}. */
export interface CliOptions {
  /** Variables on top of the cleaned environment. Default: none. */
  readonly env?: Record<string, string>;
  /** With runCli: kill the command and fail after this long. Default 45 s. */
  readonly deadlineMs?: number;
}

/** Starts `guildhall <args>` from the repository root. */
export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const wake of waiters) wake();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr, pid: child.pid ?? 0 }),
    );
  });
  return {
    pid: child.pid ?? 0,
    kill: (signal) => child.kill(signal),
    result,
    output: () => stdout,
    waitForOutput(text) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!stdout.includes(text)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
        void result.then(() => {
          if (!stdout.includes(text)) {
            reject(new Error(`guildhall exited before printing "${text}":\n${stdout}\n${stderr}`));
          }
        });
      });
    },
  };
}

/**
 * Runs `guildhall <args>` from the repository root and resolves when it exits; kills it and
 * rejects if it is still running after `options.deadlineMs`.
 */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const deadlineMs = options.deadlineMs ?? 45_000;
  const cli = startCli(args, options);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.kill("SIGKILL");
      reject(new Error(`guildhall ${args.join(" ")} still ran after ${deadlineMs} ms`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([cli.result, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
