// Spawning, stopping, crash detection and shutdown, with real agent processes.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { AgentProcessManager } from "@guildhall/process-manager";
import { waitFor } from "@guildhall/testing";
import {
  childPids,
  clientMessage,
  FIXTURES,
  fixtureClass,
  isRunning,
  managersPerTest,
  nextEvent,
  recordEvents,
  recordingPublisher,
} from "./helpers.js";

const guild = { id: "guild-1", name: "Lifecycle" };
const { create: createManager, baseline } = managersPerTest();

describe("spawn and stop", () => {
  it("resolves when the agent is ready, reports its info, and stops it gracefully", async () => {
    const manager = await createManager({ warmPoolSize: 0 });
    const events = recordEvents(manager);
    const info = await manager.spawn({
      guild,
      agent: { id: "echo", name: "Echo", className: fixtureClass("Echo") },
    });
    expect(info).toMatchObject({
      guildId: "guild-1",
      agentId: "echo",
      state: "ready",
      restarts: 0,
    });
    expect(info.pid).toBeTypeOf("number");
    expect(isRunning(info.pid ?? -1)).toBe(true);
    expect(info.memoryRssBytes).toBeGreaterThan(1_000_000);
    expect(events.map((event) => event.type)).toEqual(["started", "ready"]);
    expect(manager.has("guild-1", "echo")).toBe(true);
    expect((await manager.list({ guildId: "guild-1" })).map((agent) => agent.agentId)).toEqual([
      "echo",
    ]);
    expect(await manager.list({ guildId: "other" })).toEqual([]);
    await expect(
      manager.spawn({
        guild,
        agent: { id: "echo", name: "Echo", className: fixtureClass("Echo") },
      }),
    ).rejects.toMatchObject({ code: "already-exists" });

    await manager.stop("guild-1", "echo");
    expect(isRunning(info.pid ?? -1)).toBe(false);
    expect(events.at(-1)).toMatchObject({
      type: "stopped",
      requested: true,
      exitCode: 0,
      signal: null,
    });
    expect(manager.has("guild-1", "echo")).toBe(false);
    await expect(manager.stop("guild-1", "echo")).rejects.toMatchObject({ code: "not-found" });
  });

  it("escalates to SIGKILL when the agent does not stop within stopTimeoutMs", async () => {
    const manager = await createManager({ warmPoolSize: 0, stopTimeoutMs: 300 });
    const { pid } = await manager.spawn({
      guild,
      agent: { id: "stubborn", name: "Stubborn", className: fixtureClass("Stubborn") },
    });
    const stopped = nextEvent(manager, "stopped");
    await manager.stop("guild-1", "stubborn");
    expect(await stopped).toMatchObject({ signal: "SIGKILL", requested: true, pid });
    expect(isRunning(pid ?? -1)).toBe(false);
  });

  it("ends a quiesced agent without onStop at once, and still runs the onStop of one that has it", async () => {
    const manager = await createManager({ warmPoolSize: 0, stopTimeoutMs: 300 });
    const echo = await manager.spawn({
      guild,
      agent: { id: "echo", name: "Echo", className: fixtureClass("Echo") },
    });
    await manager.spawn({
      guild,
      agent: { id: "stubborn", name: "Stubborn", className: fixtureClass("Stubborn") },
    });
    const events = recordEvents(manager);

    // Nothing to run at its stop: SIGKILL at once, reported as the stop that was asked for.
    await manager.stop("guild-1", "echo", { quiesced: true });
    expect(isRunning(echo.pid ?? -1)).toBe(false);
    expect(events.at(-1)).toMatchObject({
      type: "stopped",
      agentId: "echo",
      requested: true,
      signal: "SIGKILL",
    });
    // One with onStop gets SIGTERM first even when quiesced (Stubborn notes it, then its onStop
    // never ends, so the stop timeout's SIGKILL ends it).
    const lines: string[] = [];
    const following = (async () => {
      for await (const line of manager.logs("guild-1", "stubborn", { follow: true })) {
        lines.push(line.text);
      }
    })();
    await manager.stop("guild-1", "stubborn", { quiesced: true });
    await following;
    expect(lines).toContain("ignoring SIGTERM");
    expect(events.at(-1)).toMatchObject({ agentId: "stubborn", signal: "SIGKILL" });
  });

  it("kills an agent that is not ready within startTimeoutMs and rejects with deadline-exceeded", async () => {
    const manager = await createManager({ warmPoolSize: 0, startTimeoutMs: 600 });
    const started = nextEvent(manager, "started");
    const error = await manager
      .spawn({ guild, agent: { id: "slow", name: "Slow", className: fixtureClass("SlowStart") } })
      .catch((error: unknown) => error);
    expect(error).toMatchObject({ code: "deadline-exceeded" });
    expect((error as Error).message).toMatch(/raise startTimeoutMs/);
    expect(isRunning((await started).pid)).toBe(false);
    expect(manager.has("guild-1", "slow")).toBe(false);
  });

  it("refuses spawns beyond maxProcesses with resource-exhausted, and the pool stays within it", async () => {
    const manager = await createManager({ maxProcesses: 2, warmPoolSize: 1 });
    for (const id of ["a", "b"]) {
      await manager.spawn({ guild, agent: { id, name: id, className: fixtureClass("Echo") } });
    }
    const error = await manager
      .spawn({ guild, agent: { id: "c", name: "c", className: fixtureClass("Echo") } })
      .catch((error: unknown) => error);
    expect(error).toBeInstanceOf(GuildhallError);
    expect(error).toMatchObject({ code: "resource-exhausted" });
    expect((error as Error).message).toMatch(/raise maxProcesses/);
    await waitFor(() => childPids().length - baseline().length === 2, {
      description: "surplus pool processes to be gone",
    });
    expect(manager.status()).toMatchObject({ activeAgents: 2, warmPool: { idlePids: [] } });
  });

  it("gives an agent with resources.memoryMb its own process with the heap limit, and no host credentials", async () => {
    const { onPublish, published } = recordingPublisher();
    process.env.GUILDHALL_TOKEN = "s3cret";
    const manager = await createManager({
      warmPoolSize: 1,
      onPublish,
      env: { AGENT_FLAG: "1" },
    }).finally(() => delete process.env.GUILDHALL_TOKEN);
    const started = nextEvent(manager, "started");
    const info = await manager.spawn({
      guild,
      agent: {
        id: "small",
        name: "Small",
        className: fixtureClass("Echo"),
        resources: { memoryMb: 64 },
      },
    });
    expect((await started).warm).toBe(false);
    expect(manager.status().warmPool.idlePids).not.toContain(info.pid);
    await manager.deliver("guild-1", "small", clientMessage("q1", { whoami: true }));
    const reply = published[0]?.message.payload as {
      execArgv: string[];
      heapLimitMb: number;
      env: string[];
    };
    expect(reply.execArgv).toContain("--max-old-space-size=64");
    expect(reply.heapLimitMb).toBeLessThan(128);
    // The environment is a safe subset of the host's plus `env`, never the host's secrets.
    expect(reply.env).toContain("AGENT_FLAG");
    expect(reply.env).toContain("PATH");
    expect(reply.env).not.toContain("GUILDHALL_TOKEN");
  });
});

describe("crashes", () => {
  it("sees a kill -9 from the exit event and restarts the agent", async () => {
    const manager = await createManager({ warmPoolSize: 1 });
    const before = await manager.spawn({
      guild,
      agent: {
        id: "victim",
        name: "Victim",
        className: fixtureClass("Echo"),
        restartPolicy: { mode: "on-failure", maxRestarts: 3, backoffMs: 10 },
      },
    });
    const crashed = nextEvent(manager, "crashed");
    const restarted = nextEvent(manager, "restarted");
    process.kill(before.pid ?? -1, "SIGKILL");
    expect(await crashed).toMatchObject({
      pid: before.pid,
      signal: "SIGKILL",
      willRestart: true,
      restartInMs: 10,
    });
    const again = await restarted;
    expect(again.pid).not.toBe(before.pid);
    expect(again.restarts).toBe(1);
    const info = await manager.info("guild-1", "victim");
    expect(info).toMatchObject({ state: "ready", restarts: 1, pid: again.pid });
    expect(info.lastError).toMatch(/SIGKILL/);
  });

  it("backs off exponentially up to the cap, then leaves the agent crashed", async () => {
    const manager = await createManager({ warmPoolSize: 1, maxBackoffMs: 50 });
    const events = recordEvents(manager);
    const gaveUp = nextEvent(manager, "crashed", (event) => !event.willRestart);
    await manager.spawn({
      guild,
      agent: {
        id: "crasher",
        name: "Crasher",
        className: fixtureClass("CrashSoon"),
        restartPolicy: { mode: "always", maxRestarts: 3, backoffMs: 20 },
      },
    });
    const final = await gaveUp;
    const crashes = events.filter((event) => event.type === "crashed");
    expect(crashes.map((event) => event.restartInMs)).toEqual([20, 40, 50, undefined]);
    expect(
      events.filter((event) => event.type === "restarted").map((event) => event.restarts),
    ).toEqual([1, 2, 3]);
    expect(final.error).toMatch(/boom/);
    const info = await manager.info("guild-1", "crasher");
    expect(info).toMatchObject({ state: "crashed", restarts: 3, pid: undefined });
    expect(info.lastError).toMatch(/gave up after 3 restarts/);
    // A crashed agent can be replaced by a new spawn of the same id.
    await manager.stop("guild-1", "crasher");
    expect(manager.has("guild-1", "crasher")).toBe(false);
  });

  it("leaves an agent that exits cleanly under on-failure as exited, without restart", async () => {
    const manager = await createManager({ warmPoolSize: 0 });
    await manager.spawn({
      guild,
      agent: { id: "quitter", name: "Quitter", className: fixtureClass("Echo") },
    });
    const stopped = nextEvent(manager, "stopped");
    await manager
      .deliver("guild-1", "quitter", clientMessage("bye", { exit: 0 }))
      .catch((error: unknown) => error);
    expect(await stopped).toMatchObject({ requested: false, exitCode: 0 });
    expect((await manager.info("guild-1", "quitter")).state).toBe("exited");
    await expect(
      manager.deliver("guild-1", "quitter", clientMessage("late", {})),
    ).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});

describe("warm pool and shutdown", () => {
  it("spawns into a pre-started process and refills the pool", async () => {
    const manager = await createManager({ warmPoolSize: 1 });
    const idle = manager.status().warmPool.idlePids;
    expect(idle).toHaveLength(1);
    const started = nextEvent(manager, "started");
    const info = await manager.spawn({
      guild,
      agent: { id: "warm", name: "Warm", className: fixtureClass("Echo") },
    });
    expect((await started).warm).toBe(true);
    expect(idle).toContain(info.pid);
    await manager.whenWarm();
    const refilled = manager.status().warmPool.idlePids;
    expect(refilled).toHaveLength(1);
    expect(refilled).not.toContain(info.pid);
  });

  it("hands a spawn the pool's runner that is still starting rather than forking another", async () => {
    const before = new Set(childPids());
    // Constructed, not created: its pool runner is forked but has not reported in yet.
    const manager = new AgentProcessManager({ agentModules: [FIXTURES], warmPoolSize: 1 });
    try {
      const starting = childPids().filter((pid) => !before.has(pid));
      expect(manager.status().warmPool).toMatchObject({ idlePids: [], starting: 1 });
      expect(starting).toHaveLength(1);
      const info = await manager.spawn({
        guild,
        agent: { id: "early", name: "Early", className: fixtureClass("Echo") },
      });
      expect(info.pid).toBe(starting[0]);
      await manager.whenWarm();
      expect(manager.status().warmPool.idlePids).not.toContain(info.pid);
    } finally {
      await manager.shutdown();
    }
  });

  it("gives up on pool runners that never report in instead of waiting for them forever", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === "GuildhallWarmPoolWarning") warnings.push(warning.message);
    };
    process.on("warning", onWarning);
    try {
      const manager = await createManager({
        warmPoolSize: 1,
        startTimeoutMs: 300,
        execArgv: ["--import", pathToFileURL(`${FIXTURES}/hanging-preload.mjs`).href],
      });
      await waitFor(() => warnings.length > 0, { description: "the pool warning" });
      expect(warnings[0]).toMatch(/did not report in within startTimeoutMs=300 ms/);
      expect(manager.status().warmPool).toMatchObject({ idlePids: [], starting: 0 });
      // Each runner it gave up on was killed and reaped.
      expect(childPids()).toEqual(baseline());
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("stops agents and pool processes on shutdown and refuses spawns afterwards", async () => {
    const manager = new AgentProcessManager({ agentModules: [FIXTURES], warmPoolSize: 1 });
    await manager.whenWarm();
    const pool = manager.status().warmPool.idlePids;
    const agents = await Promise.all(
      ["s1", "s2"].map((id) =>
        manager.spawn({ guild, agent: { id, name: id, className: fixtureClass("Echo") } }),
      ),
    );
    expect(childPids().length).toBeGreaterThan(baseline().length);
    await manager.shutdown();
    for (const pid of [...pool, ...agents.map((agent) => agent.pid ?? -1)]) {
      expect(isRunning(pid)).toBe(false);
    }
    expect(childPids()).toEqual(baseline());
    await expect(
      manager.spawn({
        guild,
        agent: { id: "late", name: "late", className: fixtureClass("Echo") },
      }),
    ).rejects.toMatchObject({ code: "unavailable" });
  });

  it("lets agent processes end by themselves when their host dies", async () => {
    const host = spawn(process.execPath, [`${FIXTURES}/host.mjs`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [chunk] = (await once(host.stdout, "data")) as [Buffer];
    const pids = JSON.parse(chunk.toString()) as { agent: number; pool: number[] };
    expect(isRunning(pids.agent)).toBe(true);
    host.kill("SIGKILL");
    await once(host, "exit");
    for (const pid of [pids.agent, ...pids.pool]) {
      await waitFor(() => !isRunning(pid), {
        description: `process ${pid} of the dead host to exit`,
      });
    }
  });

  it("stop during start makes the spawn reject with unavailable", async () => {
    const manager = await createManager({ warmPoolSize: 0 });
    const started = nextEvent(manager, "started");
    const spawning = manager.spawn({
      guild,
      agent: { id: "early", name: "Early", className: fixtureClass("Echo") },
    });
    const { pid } = await started;
    await manager.stop("guild-1", "early");
    await expect(spawning).rejects.toMatchObject({ code: "unavailable" });
    expect(isRunning(pid)).toBe(false);
  });
});
