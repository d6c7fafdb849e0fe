// `guildhall run`, `status` and `agents` against a Redis-backed cluster as production runs it: a
// private redis-server and two `guildhall host` processes, driven by the built bin.
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import { startHostProcess, type HostProcess } from "../../../tools/test-support/host-process.js";
import { expectNoLeakedProcesses, isRunning } from "../../../tools/test-support/processes.js";
import { runCli } from "./run-cli.js";

const HELLO_AGENTS = fileURLToPath(new URL("../../../examples/hello/dist", import.meta.url));
const PREFIX = `cli-cluster-${process.pid}:`;

interface ListedAgent {
  readonly guildId: string;
  readonly agentId: string;
  readonly host: string;
  readonly state: string;
  readonly pid: number;
}

let redis: RedisTestServer;
let hosts: HostProcess[] = [];
let cluster: string[];

beforeAll(async () => {
  redis = await startRedisServer();
  hosts = await Promise.all(
    [1, 2].map(() =>
      startHostProcess({ redisUrl: redis.url, keyPrefix: PREFIX, agentModules: [HELLO_AGENTS] }),
    ),
  );
  cluster = ["--redis", redis.url, "--key-prefix", PREFIX];
});

afterEach(async () => {
  // The cluster's own processes stay up between tests; nothing else may.
  await expectNoLeakedProcesses([...hosts.map((h) => h.pid), redis.pid ?? 0]);
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.kill("SIGTERM")));
  await redis.stop();
  await expectNoLeakedProcesses();
});

async function listAgents(): Promise<ListedAgent[]> {
  const result = await runCli(["agents", "ls", "--json", ...cluster]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as ListedAgent[];
}

describe("guildhall against a Redis-backed cluster", () => {
  it("status --json lists both hosts", async () => {
    const result = await runCli(["status", "--json", ...cluster]);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as {
      hosts: { address: string; load: number; maxAgents: number; draining: boolean }[];
      guilds: unknown[];
    };
    expect(status.hosts.map((h) => h.address).sort()).toEqual(hosts.map((h) => h.address).sort());
    expect(status.hosts.every((h) => h.maxAgents > 0 && !h.draining)).toBe(true);
  });

  it("run launches a guild; agents ls, status and agents logs show it; agents stop stops it", async () => {
    const addresses = hosts.map((h) => h.address);
    const run = await runCli([
      "run",
      "examples/hello/guild.yaml",
      "--hosts",
      addresses.join(","),
      "--json",
      ...cluster,
    ]);
    expect(run.stderr).toContain("agent initiator ready on");
    expect(run.code).toBe(0);
    const placed = JSON.parse(run.stdout) as {
      guild: { id: string };
      agents: { id: string; host: string }[];
    };
    expect(placed.guild.id).toBe("hello");
    expect(placed.agents.map((a) => a.id).sort()).toEqual(["initiator", "responder"]);
    expect(placed.agents.every((a) => addresses.includes(a.host))).toBe(true);

    const agents = await listAgents();
    expect(agents.map((a) => [a.guildId, a.agentId, a.state]).sort()).toEqual([
      ["hello", "initiator", "ready"],
      ["hello", "responder", "ready"],
    ]);
    for (const agent of agents) {
      expect(agent.host).toBe(placed.agents.find((a) => a.id === agent.agentId)?.host);
      expect(isRunning(agent.pid)).toBe(true);
    }

    const status = JSON.parse((await runCli(["status", "--json", ...cluster])).stdout) as {
      hosts: { load: number }[];
      guilds: { id: string; desiredAgents: number; runningAgents: number }[];
    };
    expect(status.guilds).toEqual([
      { id: "hello", name: "Hello", desiredAgents: 2, runningAgents: 2 },
    ]);
    expect(status.hosts.reduce((sum, h) => sum + h.load, 0)).toBe(2);

    // The initiator logs each answer it gets; its host captured those lines.
    const logs = await waitFor(
      async () => {
        const result = await runCli(["agents", "logs", "initiator", ...cluster]);
        return result.code === 0 && result.stdout.includes('"answered"') ? result : undefined;
      },
      { description: "the initiator to log an answer" },
    );
    expect(logs.stdout).toContain('"by":"responder"');

    const again = await runCli(["run", "examples/hello/guild.yaml", ...cluster]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("initiator");
    expect((await listAgents()).map((a) => a.pid).sort()).toEqual(agents.map((a) => a.pid).sort());

    const stop = await runCli(["agents", "stop", "initiator", "responder", ...cluster]);
    expect(stop.stderr).toBe("");
    expect(stop.stdout).toBe("stopped hello/initiator\nstopped hello/responder\n");
    expect(stop.code).toBe(0);
    expect(await listAgents()).toEqual([]);
    expect(agents.map((a) => a.pid).filter(isRunning)).toEqual([]);
  });

  it("agents move moves an agent to the other host, by choice or by name, and refuses bad targets", async () => {
    const addresses = hosts.map((h) => h.address);
    const run = await runCli(["run", "examples/hello/guild.yaml", ...cluster]);
    expect(run.code).toBe(0);
    const before = (await listAgents()).find((a) => a.agentId === "initiator")!;
    const other = addresses.find((a) => a !== before.host)!;

    const away = await runCli(["agents", "move", "initiator", ...cluster]);
    expect(away.stderr).toBe("");
    expect(away.stdout).toBe(`moved hello/initiator from ${before.host} to ${other}\n`);
    expect(away.code).toBe(0);
    const moved = (await listAgents()).find((a) => a.agentId === "initiator")!;
    expect(moved).toMatchObject({ host: other, state: "ready" });
    expect(isRunning(before.pid)).toBe(false);

    const refusals: [args: string[], code: number, says: string][] = [
      [["--to", other], 2, `already runs on host ${other}`],
      [["--to", "127.0.0.1:1"], 5, "no live agent host has that address"],
    ];
    for (const [args, code, says] of refusals) {
      const refused = await runCli(["agents", "move", "initiator", ...args, ...cluster]);
      expect(refused.stderr).toContain(says);
      expect(refused.code).toBe(code);
    }
    const nobody = await runCli(["agents", "move", "nobody", ...cluster]);
    expect(nobody.code).toBe(5);
    expect(nobody.stderr).toContain('no guild has an agent "nobody"');
    // Refused moves changed nothing: the same process on the same host.
    expect((await listAgents()).find((a) => a.agentId === "initiator")).toMatchObject({
      host: moved.host,
      pid: moved.pid,
    });

    const back = await runCli([
      "agents",
      "move",
      "initiator",
      "--to",
      before.host,
      "--guild",
      "hello",
      "--json",
      ...cluster,
    ]);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({
      guildId: "hello",
      agentId: "initiator",
      from: other,
      to: before.host,
    });
    expect((await listAgents()).find((a) => a.agentId === "initiator")?.host).toBe(before.host);

    const stop = await runCli(["agents", "stop", "initiator", "responder", ...cluster]);
    expect(stop.code).toBe(0);
    expect(await listAgents()).toEqual([]);
  });

  it("run --lazy declares the agents asleep: agents ls shows them hibernated, with no process", async () => {
    const run = await runCli(["run", "examples/hello/guild.yaml", "--lazy", ...cluster]);
    expect(run.stderr).toContain("agent responder declared on");
    expect(run.stdout).toContain("guild hello has 2 agents asleep");
    expect(run.code).toBe(0);
    const listed = await listAgents();
    expect(listed.map((a) => [a.guildId, a.agentId, a.state, a.pid]).sort()).toEqual([
      ["hello", "initiator", "hibernated", 0],
      ["hello", "responder", "hibernated", 0],
    ]);
    const table = await runCli(["agents", "ls", ...cluster]);
    expect(table.stdout).toMatch(/responder\s.*hibernated/);

    const stop = await runCli(["agents", "stop", "initiator", "responder", ...cluster]);
    expect(stop.code).toBe(0);
    expect(await listAgents()).toEqual([]);
  });

  it("says what is missing: no such agent (5), Redis unreachable (4), no Redis given (2)", async () => {
    const missing = await runCli(["agents", "stop", "nobody", ...cluster]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('no guild has an agent "nobody"');

    const down = await runCli(["status", "--redis", "redis://127.0.0.1:1"]);
    expect(down.code).toBe(4);
    expect(down.stderr).toContain("cannot reach Redis at redis://127.0.0.1:1");

    const none = await runCli(["agents", "ls"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--redis");
  });

  it("run names the problem when no host is registered under the key prefix", async () => {
    const result = await runCli([
      "run",
      "examples/hello/guild.yaml",
      "--redis",
      redis.url,
      "--key-prefix",
      "nobody-here:",
    ]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("no agent hosts found");
  });
});
