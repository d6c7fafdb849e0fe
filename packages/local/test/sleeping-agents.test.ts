// Sleeping agents on a local cluster (DESIGN section 13): ten thousand agents declared lazily
// through the engine hold no process yet count as running everywhere the engine and the host
// report them; a message wakes one with its exact state, it sleeps again past hibernateAfterMs
// and wakes again with that state, and stopping a sleeping agent removes it for good.
import { connectGuildClient, isDurableBus, type GuildClient } from "@guildhall/core";
import { HostClients } from "@guildhall/engine";
import { AgentState } from "@guildhall/proto";
import {
  probeAgentsModule,
  probeClassName,
  recordMessages,
  waitFor,
  type MessageRecorder,
} from "@guildhall/testing";
import { afterEach, expect, it } from "vitest";
import { startLocalCluster, type LocalCluster } from "../src/index.js";
import { FIXTURES, childPids, expectNoLeakedProcesses, newGuild } from "./helpers.js";
import { inParallel } from "../../../tools/test-support/in-parallel.js";

const TOKEN = "sleeping-agents-test-token";
const AGENTS = 10_000;
/** Declares in flight at once, as an application declaring a large guild would keep them. */
const IN_FLIGHT = 64;
/** Long enough for a get to follow an add while awake; short enough to see it sleep again. */
const HIBERNATE_AFTER_MS = 300;

let cluster: LocalCluster | undefined;
const clients: GuildClient[] = [];
const hostClients = new HostClients({ token: TOKEN });

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  hostClients.close();
  await cluster?.stop();
  cluster = undefined;
  await expectNoLeakedProcesses();
});

const idOf = (i: number): string => `sleeper-${i}`;

it("declares 10,000 sleeping agents without a process, wakes a few with their state, and stops one for good", async () => {
  // No warm pool: any child process of this test would be an agent's.
  const c = await startLocalCluster({
    hosts: 1,
    agentModules: [FIXTURES, probeAgentsModule],
    token: TOKEN,
    maxAgentsPerHost: AGENTS,
    hostOptions: { logLevel: "silent", warmPoolSize: 0, stopTimeoutMs: 5_000 },
  });
  cluster = c;
  const address = c.hosts[0]!.address;
  const host = hostClients.get(address);
  const guild = newGuild("sleepers");
  const ids = Array.from({ length: AGENTS }, (_, i) => idOf(i));
  await inParallel(ids, IN_FLIGHT, (id) =>
    c.engine.runAgent(
      guild,
      {
        id,
        name: "sleeper",
        className: probeClassName("CounterAgent"),
        hibernateAfterMs: HIBERNATE_AFTER_MS,
      },
      { lazy: true },
    ),
  );

  // Declared, and not one process.
  expect(childPids()).toEqual([]);
  const sample = [0, 1, 4_999, 7_777, AGENTS - 1].map(idOf);
  for (const id of sample) {
    expect(await c.engine.isAgentRunning(guild.id, id)).toBe(true);
    const info = (await host.getAgentInfo({ guildId: guild.id, agentId: id })).agent;
    expect(info?.state).toBe(AgentState.HIBERNATED);
    expect(info?.pid).toBe(0);
  }
  expect([...(await c.engine.getAgentsInGuild(guild.id)).keys()].sort()).toEqual([...ids].sort());
  const listed = (await host.listAgents({ guildId: guild.id })).agents;
  expect(listed).toHaveLength(AGENTS);
  expect(listed.filter((a) => a.state !== AgentState.HIBERNATED)).toEqual([]);

  // A message wakes each of a handful; each holds exactly what it was sent.
  const app = connectGuildClient(c.bus, { guildId: guild.id, id: "app" });
  clients.push(app);
  const inbox = await recordMessages(app, "inbox:app", { timeoutMs: 30_000 });
  const woken = [3, 333, 3_333, 6_666, 9_999].map(idOf);
  for (const [i, id] of woken.entries()) {
    await app.publish(`inbox:${id}`, { op: "add", n: i + 1 });
  }
  const first = await Promise.all(woken.map((id) => get(app, inbox, id)));
  expect(first.map((a) => a.count)).toEqual([1, 2, 3, 4, 5]);
  expect(first.map((a) => a.starts)).toEqual([1, 1, 1, 1, 1]);
  expect(new Set(first.map((a) => a.pid)).size).toBe(woken.length);

  // Idle past hibernateAfterMs they sleep again, and wake again from their committed state.
  await waitFor(
    async () => {
      const states = await Promise.all(
        woken.map(
          async (id) => (await host.getAgentInfo({ guildId: guild.id, agentId: id })).agent?.state,
        ),
      );
      return states.every((s) => s === AgentState.HIBERNATED) && childPids().length === 0;
    },
    { description: "the woken agents asleep again, their processes gone", timeoutMs: 30_000 },
  );
  const second = await Promise.all(woken.map((id) => get(app, inbox, id)));
  expect(second.map((a) => a.count)).toEqual([1, 2, 3, 4, 5]);
  expect(second.map((a) => a.starts)).toEqual([2, 2, 2, 2, 2]);
  for (const [i, answer] of second.entries()) expect(answer.pid).not.toBe(first[i]?.pid);

  // Stopping a sleeping agent removes it everywhere, its durable state included.
  const stopped = idOf(42);
  await c.engine.stopAgent(guild.id, stopped);
  expect(await c.engine.isAgentRunning(guild.id, stopped)).toBe(false);
  expect((await c.engine.getAgentsInGuild(guild.id)).has(stopped)).toBe(false);
  expect((await host.listAgents({ guildId: guild.id })).agents).toHaveLength(AGENTS - 1);
  await expect(host.getAgentInfo({ guildId: guild.id, agentId: stopped })).rejects.toThrow(
    /not.found|no agent/i,
  );
  expect(isDurableBus(c.bus)).toBe(true);
  if (isDurableBus(c.bus)) expect(await c.bus.readAgent(guild.id, stopped)).toBeUndefined();
});

/** Asks a CounterAgent for its count, and waits for its answer to that very message. */
async function get(
  app: GuildClient,
  inbox: MessageRecorder,
  agentId: string,
): Promise<{ count: number; starts: number; pid: number }> {
  const sent = await app.publish(`inbox:${agentId}`, { op: "get" });
  const answer = await inbox.waitFor((m) => m.inResponseTo === sent.id, {
    description: `the answer of ${agentId}`,
  });
  return answer.payload as { count: number; starts: number; pid: number };
}
