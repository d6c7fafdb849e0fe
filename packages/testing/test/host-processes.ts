// Agent hosts as production runs them: `guildhall host` processes of the built CLI, on free
// loopback ports, sharing one Redis under a key prefix of their own.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** A `guildhall host` process. */
export interface HostProcess {
  /** Where it serves the agent host API (`127.0.0.1:<port>`). */
  readonly address: string;
  /** Sends SIGTERM (the host stops its agents and deregisters) and waits for the exit. */
  stop(): Promise<void>;
}

const CLI_BIN = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url));

/** Starts `guildhall host` with `env` on top of the defaults here, once it serves. */
export async function startHostProcess(env: Record<string, string>): Promise<HostProcess> {
  if (!existsSync(CLI_BIN)) {
    throw new Error(`${CLI_BIN} is missing: build the CLI first (npx nx build @guildhall/cli)`);
  }
  const child = spawn(process.execPath, [CLI_BIN, "host", "--no-metrics"], {
    env: {
      ...process.env,
      GUILDHALL_PORT: "0",
      GUILDHALL_BIND: "127.0.0.1",
      GUILDHALL_STOP_TIMEOUT_MS: "5000",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = once(child, "exit");
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`guildhall host did not serve within 30 s:\n${stderr}`));
    }, 30_000);
    // Read on after the address is known, so a chatty log never fills the pipe and blocks the host.
    createInterface({ input: child.stdout }).on("line", (line) => {
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
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
