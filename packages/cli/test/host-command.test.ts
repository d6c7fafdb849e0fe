// `guildhall host` end to end: the built bin as its own process, a private redis-server, agents
// created over gRPC, and a graceful SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentHostService, CreateAgentRequestSchema, HostState } from "@guildhall/proto";
import { RedisLocationRegistry } from "@guildhall/registry";
import { startRedisServer, type RedisTestServer } from "@guildhall/testing";
import { isRunning } from "../../../tools/test-support/processes.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));
const PREFIX = "cli-test:";

interface LogEntry {
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** A `guildhall host` process and the JSON lines it has written to stdout so far. */
interface HostProcess {
  readonly child: ChildProcess;
  readonly logs: LogEntry[];
  readonly stderr: () => string;
  /** Resolves with the first log entry whose msg is `msg`; rejects if the process exits first. */
  waitForLog(msg: string): Promise<LogEntry>;
}

let redis: RedisTestServer;
let running: ChildProcess | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

afterEach(() => {
  if (running !== undefined && running.exitCode === null && running.signalCode === null) {
    running.kill("SIGKILL");
  }
  running = undefined;
});

/** The environment without anything that could point the host elsewhere. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(GUILDHALL_|REDIS_URL$|LOG_LEVEL$)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

function startHostProcess(args: string[], env: Record<string, string>): HostProcess {
  const child = spawn(process.execPath, [BIN, "host", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  running = child;
  const logs: LogEntry[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as LogEntry);
    } catch {
      logs.push({ msg: line });
    }
    for (const wake of waiters) wake();
  });
  const exited = once(child, "exit");
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog(msg) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find((entry) => entry.msg === msg);
          if (found === undefined) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
        void exited.then(() =>
          reject(new Error(`guildhall host exited before logging "${msg}":\n${stderr}`)),
        );
      });
    },
  };
}

describe("guildhall host", () => {
  it("runs a host from the environment; on SIGTERM stops its agents, deregisters and exits 0", async () => {
    const proc = startHostProcess(["--bind", "127.0.0.1"], {
      GUILDHALL_REDIS_URL: redis.url,
      GUILDHALL_KEY_PREFIX: PREFIX,
      GUILDHALL_PORT: "0",
      GUILDHALL_METRICS_PORT: "0",
      GUILDHALL_AGENT_MODULES: FIXTURES,
      GUILDHALL_HEARTBEAT_MS: "500",
      GUILDHALL_STOP_TIMEOUT_MS: "5000",
      LOG_LEVEL: "info",
    });
    const serving = await proc.waitForLog("agent host serving");
    const address = String(serving["address"]);
    expect(serving["host"]).toBe(address);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);

    const client = createClient(
      AgentHostService,
      createGrpcTransport({ baseUrl: `http://${address}` }),
    );
    const pids = await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        const { agent } = await client.createAgent(
          create(CreateAgentRequestSchema, {
            guild: { id: "g1", name: "Guild" },
            agent: {
              id: `agent-${n}`,
              name: `Agent ${n}`,
              className: `${FIXTURES}/agents.mjs#Echo`,
            },
          }),
        );
        return agent?.pid ?? 0;
      }),
    );
    expect(pids.every(isRunning)).toBe(true);
    expect((await client.health({})).agentCount).toBe(5);
    expect((await client.health({})).state).toBe(HostState.SERVING);

    const registry = new RedisLocationRegistry({ url: redis.url, prefix: PREFIX });
    try {
      expect((await registry.getHost(address))?.load).toBe(5);
      expect(await registry.listGuildAgents("g1")).toHaveLength(5);

      const exited = once(proc.child, "exit");
      proc.child.kill("SIGTERM");
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      expect({ code, signal, stderr: proc.stderr() }).toEqual({
        code: 0,
        signal: null,
        stderr: "",
      });
      expect(pids.filter(isRunning)).toEqual([]);
      expect(await registry.getHost(address)).toBeUndefined();
      expect(await registry.listGuildAgents("g1")).toEqual([]);
      expect(proc.logs.some((entry) => entry.msg === "host deregistered")).toBe(true);
    } finally {
      await registry.close();
    }
  });

  it("runs a standalone host with --memory and exits 0 on SIGINT", async () => {
    const proc = startHostProcess(
      [
        "--memory",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--no-metrics",
        "--agent-modules",
        FIXTURES,
      ],
      {},
    );
    const serving = await proc.waitForLog("agent host serving");
    expect(serving["metrics_port"]).toBeNull();
    const exited = once(proc.child, "exit");
    proc.child.kill("SIGINT");
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });

  it("refuses to start without a registry, saying what to set", async () => {
    const proc = startHostProcess(["--agent-modules", FIXTURES], {});
    const [code] = (await once(proc.child, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(proc.stderr()).toContain("GUILDHALL_REDIS_URL");
    expect(proc.stderr()).toContain("--memory");
  });

  it("fails with exit code 1 when the registry cannot be reached", async () => {
    const proc = startHostProcess(["--bind", "127.0.0.1", "--port", "0", "--no-metrics"], {
      GUILDHALL_REDIS_URL: "redis://127.0.0.1:1",
      GUILDHALL_AGENT_MODULES: FIXTURES,
      LOG_LEVEL: "silent",
    });
    const [code] = (await once(proc.child, "exit")) as [number | null];
    expect(code).toBe(1);
    expect(proc.stderr()).toContain("could not register this host");
  });
});
