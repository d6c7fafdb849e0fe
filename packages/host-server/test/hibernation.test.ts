// Agents that sleep (DESIGN section 13): declared lazily or idle past hibernateAfterMs they hold no
// process, their next message or timer starts one from their committed state, and a host that
// runs its maxProcesses puts its idlest agent to sleep to wake another.
import { Code } from "@connectrpc/connect";
import { AgentState } from "@guildhall/proto";
import {
  connectGuildClient,
  type GuildClient,
  type JsonValue,
  type Message,
} from "@guildhall/core";
import { waitFor } from "@guildhall/testing";
import { afterEach, expect, it } from "vitest";
import {
  FIXTURES,
  childPids,
  createRequest,
  fixtureSpec,
  useTestHosts,
  type TestHost,
} from "./helpers.js";

const startHost = useTestHosts();
const clients: GuildClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A guild client `app` that records what reaches its inbox. */
async function app(t: TestHost): Promise<{ client: GuildClient; inbox: Message[] }> {
  const client = connectGuildClient(t.bus, { guildId: "g1", id: "app" });
  clients.push(client);
  const inbox: Message[] = [];
  await client.subscribe("inbox:app", (m) => {
    inbox.push(m);
  });
  return { client, inbox };
}

function lazyRequest(id: string, hibernateAfterMs?: number) {
  const spec = fixtureSpec(id, "Alarm", hibernateAfterMs === undefined ? {} : { hibernateAfterMs });
  return { ...createRequest("g1", spec), lazy: true };
}

async function stateOf(t: TestHost, agentId: string): Promise<AgentState | undefined> {
  return (await t.client.getAgentInfo({ guildId: "g1", agentId })).agent?.state;
}

/** Sends `payload` to the agent's inbox and waits for the answer that matches. */
async function ask(
  client: GuildClient,
  inbox: Message[],
  agentId: string,
  payload: JsonValue,
  matches: (answer: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const sent = await client.publish(`inbox:${agentId}`, payload);
  return await waitFor(
    () => {
      const answer = inbox.find((m) => m.inResponseTo === sent.id);
      return answer !== undefined && matches(answer.payload as Record<string, unknown>)
        ? (answer.payload as Record<string, unknown>)
        : undefined;
    },
    { description: `the answer of ${agentId} to ${JSON.stringify(payload)}` },
  );
}

it("declares a lazy agent without a process, wakes it per message and keeps its state across sleeps", async () => {
  const t = await startHost();
  const created = await t.client.createAgent(lazyRequest("alarm", 300));
  expect(created.agent?.state).toBe(AgentState.HIBERNATED);
  expect(created.agent?.pid).toBe(0);
  expect(childPids()).toEqual([]);
  expect(await t.registry.getLocation("g1", "alarm")).toBeDefined();
  expect((await t.client.listAgents({ guildId: "g1" })).agents.map((a) => a.state)).toEqual([
    AgentState.HIBERNATED,
  ]);

  const { client, inbox } = await app(t);
  const pids = new Set<unknown>();
  for (let cycle = 1; cycle <= 3; cycle++) {
    const answer = await ask(client, inbox, "alarm", { add: 1 }, () => true);
    expect(answer["count"]).toBe(cycle);
    pids.add(answer["pid"]);
    await waitFor(async () => (await stateOf(t, "alarm")) === AgentState.HIBERNATED, {
      description: `the agent asleep after cycle ${cycle}`,
    });
    await waitFor(() => childPids().length === 0, { description: "its process gone" });
  }
  expect(pids.size).toBe(3);
  const text = await t.host.metrics();
  expect(text).toMatch(/guildhall_host_agents_hibernated\{guild_id="g1"\} 1/);
});

it("wakes a sleeping agent for its timer, and a cancelled timer never fires", async () => {
  const t = await startHost();
  await t.client.createAgent(lazyRequest("alarm", 500));
  const { client, inbox } = await app(t);
  const cancelled = await ask(
    client,
    inbox,
    "alarm",
    { schedule: { delayMs: 1_200, payload: "cancelled" } },
    () => true,
  );
  await ask(client, inbox, "alarm", { schedule: { delayMs: 2_000, payload: "due" } }, () => true);
  await ask(client, inbox, "alarm", { cancel: cancelled["scheduled"] as string }, () => true);
  // Idle past 0.5 s with its next timer 2 s away: it sleeps before the timer is due.
  await waitFor(async () => (await stateOf(t, "alarm")) === AgentState.HIBERNATED, {
    description: "the agent asleep before its timer",
  });
  expect(childPids()).toEqual([]);
  const fired = await waitFor(
    () => inbox.find((m) => m.sender.id === "alarm" && "fired" in (m.payload as object)),
    {
      description: "the timer's report",
    },
  );
  expect(fired.payload).toMatchObject({ fired: "due", count: 0 });
  // The cancelled timer was due earlier than the one that fired: had it fired, it came first.
  expect(inbox.filter((m) => "fired" in (m.payload as object)).map((m) => m.payload)).toEqual([
    fired.payload,
  ]);
  expect((await t.bus.readAgent("g1", "alarm"))?.timers).toEqual([]);
});

it("refuses bad timers with errors that name the delay", async () => {
  const t = await startHost();
  await t.client.createAgent(createRequest("g1", fixtureSpec("alarm", "Alarm")));
  const { client, inbox } = await app(t);
  for (const badDelay of [-1, 1.5, 10 ** 12, "soon"]) {
    const answer = await ask(client, inbox, "alarm", { badDelay }, () => true);
    expect(answer["code"]).toBe("invalid-argument");
    expect(answer["error"]).toMatch(/delay .* must be a whole number of milliseconds from 0 to/);
  }
  expect((await t.bus.readAgent("g1", "alarm"))?.timers).toEqual([]);
});

it("puts the least recently active agent to sleep to wake another past maxProcesses", async () => {
  const t = await startHost({ maxProcesses: 2 });
  for (const id of ["a", "b", "c"]) await t.client.createAgent(lazyRequest(id));
  const { client, inbox } = await app(t);
  for (const id of ["a", "b", "c"]) {
    expect((await ask(client, inbox, id, { add: 1 }, () => true))["count"]).toBe(1);
  }
  expect(await stateOf(t, "a")).toBe(AgentState.HIBERNATED);
  expect(await stateOf(t, "b")).toBe(AgentState.READY);
  expect(await stateOf(t, "c")).toBe(AgentState.READY);
  expect(childPids()).toHaveLength(2);
  // And "a" wakes again with its state, "b" sleeping for it.
  expect((await ask(client, inbox, "a", { add: 1 }, () => true))["count"]).toBe(2);
  expect(await stateOf(t, "b")).toBe(AgentState.HIBERNATED);
});

it("never puts an agent that does not sleep by itself to sleep for another", async () => {
  const t = await startHost({ maxProcesses: 1 });
  await t.client.createAgent(createRequest("g1", fixtureSpec("busy", "Alarm")));
  const refused = await t.client
    .createAgent(createRequest("g1", fixtureSpec("second", "Alarm")))
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: Code.ResourceExhausted });
  expect(String(refused)).toMatch(/maxProcesses=1/);
  expect(await stateOf(t, "busy")).toBe(AgentState.READY);
  // A lazy agent's wake finds no agent it may put to sleep either: it sleeps on, its message
  // kept, and wakes once a process is free.
  await t.client.createAgent(lazyRequest("lazy"));
  const { client, inbox } = await app(t);
  const sent = await client.publish("inbox:lazy", { add: 1 });
  expect(await stateOf(t, "lazy")).toBe(AgentState.HIBERNATED);
  expect(childPids()).toHaveLength(1);
  await t.client.stopAgent({ guildId: "g1", agentId: "busy" });
  const answer = await waitFor(() => inbox.find((m) => m.inResponseTo === sent.id), {
    description: "the lazy agent's answer once a process is free",
  });
  expect(answer.payload).toMatchObject({ count: 1 });
});

it("refuses a lazy agent whose module is missing or not allowed, leaving nothing behind", async () => {
  const t = await startHost();
  const missing = await t.client
    .createAgent({
      ...createRequest("g1", {
        id: "ghost",
        name: "Ghost",
        className: `${FIXTURES}/nowhere.mjs#Ghost`,
      }),
      lazy: true,
    })
    .catch((e: unknown) => e);
  expect(missing).toMatchObject({ code: Code.InvalidArgument });
  expect(String(missing)).toMatch(/nowhere\.mjs does not exist/);
  const refused = await t.client
    .createAgent({
      ...createRequest("g1", { id: "stray", name: "Stray", className: "/etc/stray.mjs#Stray" }),
      lazy: true,
    })
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: Code.PermissionDenied });
  expect(await t.registry.getLocation("g1", "ghost")).toBeUndefined();
  expect(await t.registry.getLocation("g1", "stray")).toBeUndefined();
  expect(await t.bus.readAgent("g1", "ghost")).toBeUndefined();
  expect((await t.client.listAgents({ guildId: "g1" })).agents).toEqual([]);
});

it("refuses agents past maxAgents and stops sleeping agents for good", async () => {
  const t = await startHost({ maxAgents: 2 });
  await t.client.createAgent(lazyRequest("a"));
  await t.client.createAgent(lazyRequest("b"));
  const refused = await t.client.createAgent(lazyRequest("c")).catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: Code.ResourceExhausted });
  expect(String(refused)).toMatch(/holds 2 agents, its limit \(maxAgents 2\)/);
  await t.client.stopAgent({ guildId: "g1", agentId: "a" });
  expect(await t.registry.getLocation("g1", "a")).toBeUndefined();
  expect(await t.bus.readAgent("g1", "a")).toBeUndefined();
  expect((await t.client.listAgents({ guildId: "g1" })).agents.map((a) => a.agentId)).toEqual([
    "b",
  ]);
});
