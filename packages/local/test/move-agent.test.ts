// engine.moveAgent on a Redis-backed cluster as production runs it: `guildhall host` processes on
// a real redis-server, a RedisLocationRegistry and a RedisBus, engines in this process. A move
// keeps every message and the agent's state; a refused move changes nothing; a handler stuck on
// its old host is killed there and its message handled again on the new one.
import { randomUUID } from "node:crypto";
import { RedisBus } from "@guildhall/bus-redis";
import {
  GuildhallError,
  connectGuildClient,
  type GuildClient,
  type GuildSpec,
} from "@guildhall/core";
import { ClusterExecutionEngine, HostClients, type ReconcileOptions } from "@guildhall/engine";
import { StaticDiscovery } from "@guildhall/placement";
import { RedisLocationRegistry } from "@guildhall/registry";
import {
  probeAgentsModule,
  probeClassName,
  recordMessages,
  testRedisUrl,
  waitFor,
  type MessageRecorder,
} from "@guildhall/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  FIXTURES,
  expectNoLeakedProcesses,
  fixtureSpec,
  isRunning,
  newGuild,
  parentOf,
  startHostProcess,
  type HostProcess,
} from "./helpers.js";

/** The hosts' stop timeout: how long a stop waits for a handler in progress. */
const STOP_TIMEOUT_MS = 500;

const prefix = `gh-move-${randomUUID().slice(0, 8)}:`;
let registry: RedisLocationRegistry;
let bus: RedisBus;
/** Two hosts with room, one that takes a single agent, one that refuses the probe agents. */
let hosts: { a: HostProcess; b: HostProcess; small: HostProcess; picky: HostProcess };
const engines: ClusterExecutionEngine[] = [];
const clients: GuildClient[] = [];
const hostClients = new HostClients();

function newEngine(
  addresses: readonly string[],
  extra: { reconcile?: ReconcileOptions | false } = {},
): ClusterExecutionEngine {
  const engine = new ClusterExecutionEngine({
    registry,
    bus,
    discovery: new StaticDiscovery(addresses),
    ...extra,
  });
  engines.push(engine);
  return engine;
}

function hostAt(address: string): HostProcess {
  const host = Object.values(hosts).find((h) => h.address === address);
  if (host === undefined) throw new Error(`no test host at ${address}`);
  return host;
}

beforeAll(async () => {
  const redisUrl = testRedisUrl();
  registry = new RedisLocationRegistry({ url: redisUrl, prefix });
  bus = new RedisBus({ url: redisUrl, prefix });
  const options = {
    redisUrl,
    keyPrefix: prefix,
    agentModules: [FIXTURES, probeAgentsModule],
    env: { GUILDHALL_STOP_TIMEOUT_MS: String(STOP_TIMEOUT_MS) },
  };
  const [a, b, small, picky] = await Promise.all([
    startHostProcess(options),
    startHostProcess(options),
    startHostProcess({ ...options, maxAgents: 1 }),
    startHostProcess({ ...options, agentModules: [FIXTURES] }),
  ]);
  hosts = { a, b, small, picky };
}, 90_000);

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const engine of engines.splice(0)) await engine.shutdown({ stopAgents: true });
});

afterAll(async () => {
  hostClients.close();
  await Promise.all(Object.values(hosts ?? {}).map((h) => h.kill("SIGTERM")));
  await bus?.close();
  await registry?.close();
  await expectNoLeakedProcesses();
}, 60_000);

/** A guild client recording the guild's default topic. */
async function appOf(guild: GuildSpec): Promise<{ app: GuildClient; seen: MessageRecorder }> {
  const app = connectGuildClient(bus, { guildId: guild.id, id: `app-${randomUUID().slice(0, 8)}` });
  clients.push(app);
  return { app, seen: await recordMessages(app, "default_topic", { timeoutMs: 30_000 }) };
}

/** Asks a counter for its state; it answers after every message published before. */
async function stateOf(
  app: GuildClient,
  seen: MessageRecorder,
  agentId: string,
): Promise<{ count: number; starts: number; pid: number }> {
  const since = seen.messages.length;
  await app.publish("default_topic", { op: "get" });
  const answer = await seen.waitFor(
    (m) => m.sender.id === agentId && (m.payload as { count?: unknown }).count !== undefined,
    { since, description: `the state of "${agentId}"` },
  );
  return answer.payload as { count: number; starts: number; pid: number };
}

async function rejection(promise: Promise<unknown>): Promise<GuildhallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the move to be refused").toBeInstanceOf(GuildhallError);
  return error as GuildhallError;
}

describe("moveAgent on a Redis-backed cluster of guildhall host processes", () => {
  it("moves a counting agent there and back while messages are published: each handled once, its state and location kept", async () => {
    const { a, b } = hosts;
    const engine = newEngine([a.address, b.address]);
    const guild = newGuild("move");
    const spec = { id: "counter", name: "Counter", className: probeClassName("CounterAgent") };
    await engine.runAgent(guild, spec);
    const { app, seen } = await appOf(guild);
    let sent = 0;
    const add = async (times: number): Promise<void> => {
      for (let i = 0; i < times; i++) {
        await app.publish("default_topic", { op: "add", n: 1 });
        sent++;
      }
    };
    /** Publishes until `move` settles (at most `cap` messages); resolves with how many. */
    const addWhile = async (move: Promise<unknown>, cap = 500): Promise<number> => {
      let settled = false;
      void move.then(
        () => (settled = true),
        () => (settled = true),
      );
      let during = 0;
      while (!settled && during < cap) {
        await add(1);
        during++;
      }
      return during;
    };

    await add(20);
    const start = await registry.getLocation(guild.id, "counter");
    const origin = start!.hostAddress;
    const other = origin === a.address ? b.address : a.address;

    // Placement picks the only other host.
    const away = engine.moveAgent(guild.id, "counter");
    const duringAway = await addWhile(away);
    expect(await away).toEqual({ from: origin, to: other });
    const moved = await registry.getLocation(guild.id, "counter");
    expect(moved?.hostAddress).toBe(other);
    expect(moved!.epoch).toBeGreaterThan(start!.epoch);
    await add(20);

    // And back to the host it came from, by name.
    const back = engine.moveAgent(guild.id, "counter", { toHost: origin });
    const duringBack = await addWhile(back);
    expect(await back).toEqual({ from: other, to: origin });
    await add(20);

    const state = await stateOf(app, seen, "counter");
    expect(state.count, `every one of the ${sent} adds counted exactly once`).toBe(sent);
    expect(state.starts, "started three times, each from the stored state").toBe(3);
    expect(parentOf(state.pid)).toBe(hostAt(origin).pid);
    expect(duringAway + duringBack, "messages were published while it moved").toBeGreaterThan(0);
    expect((await registry.getLocation(guild.id, "counter"))?.hostAddress).toBe(origin);
    expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec)).toEqual([spec]);
    expect(await engine.isAgentRunning(guild.id, "counter")).toBe(true);
    console.log(
      `moved a counter twice while publishing ${duringAway} and ${duringBack} messages; ${sent} adds, count ${state.count}`,
    );
  });

  it("evens out the hosts with rebalanceThreshold, each moved counter keeping its count", async () => {
    const { a, b } = hosts;
    const guild = newGuild("even");
    const ids = ["even-0", "even-1", "even-2", "even-3"];
    // Placed while only host a is known, so it takes all four.
    const placing = newEngine([a.address], { reconcile: false });
    for (const id of ids) {
      await placing.runAgent(guild, { id, name: id, className: probeClassName("CounterAgent") });
    }
    const { app, seen } = await appOf(guild);
    const add = async (times: number): Promise<void> => {
      for (let i = 0; i < times; i++) await app.publish("default_topic", { op: "add", n: 1 });
    };
    await add(10);
    const on = async (address: string): Promise<string[]> =>
      (await registry.listGuildAgents(guild.id))
        .filter((l) => l.hostAddress === address)
        .map((l) => l.agentId);

    // An engine that knows both hosts evens them out: 4 against 0 becomes 2 against 2. Shares are
    // of the default maxAgents (20,000): this threshold moves while they differ by 2 agents or more.
    newEngine([a.address, b.address], {
      reconcile: { intervalMs: 200, rebalanceThreshold: 1.5 / 20_000 },
    });
    await waitFor(async () => (await on(b.address)).length === 2, {
      description: "host b to take two of the four counters",
      timeoutMs: 30_000,
    });
    await add(10);
    for (const id of ids) {
      expect((await stateOf(app, seen, id)).count, `${id} counted every add once`).toBe(20);
    }
    expect(await on(a.address)).toHaveLength(2);
    expect(await on(b.address)).toHaveLength(2);
  });

  it("refuses moves to no host, its own host, an unknown, a full or a draining host, changing nothing", async () => {
    const { a, b, small } = hosts;
    const guild = newGuild("refused");
    // The small host's only place is taken by an agent of an engine that knows no other host.
    const filler = newEngine([small.address], { reconcile: false });
    await filler.runAgent(guild, fixtureSpec("filler", "Echo", { listenToDefaultTopic: false }));
    await filler.shutdown();

    const engine = newEngine([a.address, b.address, small.address]);
    const spec = { id: "stay", name: "Stay", className: probeClassName("CounterAgent") };
    await engine.runAgent(guild, spec);
    const { app, seen } = await appOf(guild);
    for (let i = 0; i < 3; i++) await app.publish("default_topic", { op: "add", n: 1 });
    const before = await stateOf(app, seen, "stay");
    expect(before.count).toBe(3);
    const location = await registry.getLocation(guild.id, "stay");
    const home = location!.hostAddress;
    expect([a.address, b.address]).toContain(home);
    const unchanged = async (what: string): Promise<void> => {
      expect(await registry.getLocation(guild.id, "stay"), what).toEqual(location);
      expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec.id).sort()).toEqual([
        "filler",
        "stay",
      ]);
      expect(await stateOf(app, seen, "stay"), what).toEqual(before);
    };

    const unknown = await rejection(engine.moveAgent(guild.id, "nobody"));
    expect(unknown.code).toBe("not-found");
    expect(unknown.message).toContain('"nobody"');
    expect((await rejection(engine.moveAgent(guild.id, "bad id!"))).code).toBe("invalid-argument");

    const same = await rejection(engine.moveAgent(guild.id, "stay", { toHost: home }));
    expect(same.code).toBe("invalid-argument");
    expect(same.message).toContain(`already runs on host ${home}`);
    await unchanged("after a move to its own host");

    const nowhere = await rejection(engine.moveAgent(guild.id, "stay", { toHost: "127.0.0.1:1" }));
    expect(nowhere.code).toBe("not-found");
    expect(nowhere.message).toContain("127.0.0.1:1");
    await unchanged("after a move to an unknown host");

    const full = await rejection(engine.moveAgent(guild.id, "stay", { toHost: small.address }));
    expect(full.code).toBe("resource-exhausted");
    expect(full.message).toContain(`host ${small.address}: that host is full (1 of 1 agents)`);
    await unchanged("after a move to a full host");

    const alone = newEngine([home], { reconcile: false });
    const noOther = await rejection(alone.moveAgent(guild.id, "stay"));
    expect(noOther.code).toBe("failed-precondition");
    expect(noOther.message).toContain("no other live agent host");
    await unchanged("after a move with no other host");

    await hostClients.get(small.address).drainHost({ stopAgents: false });
    await waitFor(async () => (await registry.getHost(small.address))?.draining === true, {
      description: "the small host to be draining",
    });
    const draining = await rejection(engine.moveAgent(guild.id, "stay", { toHost: small.address }));
    expect(draining.code).toBe("unavailable");
    expect(draining.message).toContain("draining");
    await unchanged("after a move to a draining host");

    await engine.stopAgent(guild.id, "filler");
  });

  it("starts the agent again on its old host when the target refuses it after the stop, and says so", async () => {
    const { a, picky } = hosts;
    const guild = newGuild("put-back");
    const spec = { id: "homing", name: "Homing", className: probeClassName("CounterAgent") };
    // Placed on host a by an engine that knows no other host.
    const first = newEngine([a.address], { reconcile: false });
    await first.runAgent(guild, spec);
    await first.shutdown();
    const engine = newEngine([a.address, picky.address], { reconcile: false });
    const { app, seen } = await appOf(guild);
    for (let i = 0; i < 3; i++) await app.publish("default_topic", { op: "add", n: 1 });
    const before = await stateOf(app, seen, "homing");
    const location = await registry.getLocation(guild.id, "homing");
    expect(location?.hostAddress).toBe(a.address);

    // The picky host does not allow the probe module: it refuses the start after the stop.
    const refused = await rejection(
      engine.moveAgent(guild.id, "homing", { toHost: picky.address }),
    );
    expect(refused.code).toBe("permission-denied");
    expect(refused.message).toContain(`starting it on host ${picky.address} failed`);
    expect(refused.message).toContain(`it runs on its old host ${a.address} again`);

    const back = await registry.getLocation(guild.id, "homing");
    expect(back?.hostAddress).toBe(a.address);
    expect(back!.epoch).toBeGreaterThan(location!.epoch);
    for (let i = 0; i < 2; i++) await app.publish("default_topic", { op: "add", n: 1 });
    const after = await stateOf(app, seen, "homing");
    expect(after).toMatchObject({ count: 5, starts: before.starts + 1 });
    expect(after.pid).not.toBe(before.pid);
    expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec)).toEqual([spec]);
    await engine.stopAgent(guild.id, "homing");
  });

  it("kills a handler stuck past the stop timeout on the old host and handles its message again on the new one", async () => {
    const { a, b } = hosts;
    const engine = newEngine([a.address, b.address]);
    const guild = newGuild("stuck");
    await engine.runAgent(guild, fixtureSpec("stuck", "StuckCounter"));
    const { app, seen } = await appOf(guild);
    const origin = (await registry.getLocation(guild.id, "stuck"))!.hostAddress;
    await app.publish("default_topic", { op: "add", n: 2 });
    const before = await stateOf(app, seen, "stuck");
    expect(before).toMatchObject({ count: 2, starts: 1 });

    // Adds 100 anywhere but on this host, where its handler hangs for good.
    await app.publish("default_topic", { op: "add", n: 100, hangUnder: hostAt(origin).pid });
    await waitFor(
      async () => {
        const logs = hostClients.get(origin).getAgentLogs({ guildId: guild.id, agentId: "stuck" });
        for await (const line of logs) if (line.text === "hanging") return true;
        return false;
      },
      { description: "the handler to hang on the old host" },
    );

    const startedAt = Date.now();
    const moved = await engine.moveAgent(guild.id, "stuck");
    const tookMs = Date.now() - startedAt;
    expect(moved.from).toBe(origin);
    expect(moved.to).toBe(origin === a.address ? b.address : a.address);
    // It waited out the stop timeout for the handler, then killed the process.
    expect(tookMs).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 50);
    expect(isRunning(before.pid)).toBe(false);

    const after = await stateOf(app, seen, "stuck");
    expect(after.count, "the stuck add was never committed, and was redone on the new host").toBe(
      102,
    );
    expect(after.starts).toBe(2);
    expect(parentOf(after.pid)).toBe(hostAt(moved.to).pid);
    console.log(
      `moved an agent whose handler was stuck in ${tookMs} ms (host stop timeout ${STOP_TIMEOUT_MS} ms, then one start)`,
    );
  });
});
