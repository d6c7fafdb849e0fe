// StopAgent as a move uses it: with keep_state the agent's durable state and read positions stay
// for its next copy, and a handler stuck past the stop timeout does not hold the stop up further.
import { connectGuildClient, type Message } from "@guildhall/core";
import { expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { createRequest, fixtureSpec, isRunning, type TestHost, useTestHosts } from "./helpers.js";

const startHost = useTestHosts();

async function inboxOf(
  t: TestHost,
  id: string,
): Promise<{ answers: Message[]; close(): Promise<void> }> {
  const client = connectGuildClient(t.bus, { guildId: "g1", id });
  const answers: Message[] = [];
  await client.subscribe(`inbox:${id}`, (m) => {
    answers.push(m);
  });
  return { answers, close: () => client.close() };
}

it("keeps the agent's state and positions with keep_state, so its next copy resumes; deletes them without", async () => {
  const t = await startHost();
  const spec = fixtureSpec("hoarder", "Hoarder");
  const app = connectGuildClient(t.bus, { guildId: "g1", id: "app" });
  const { answers } = await inboxOf(t, "app");
  await t.client.createAgent(createRequest("g1", spec));
  await app.publish("inbox:hoarder", { keep: "before" });
  await waitFor(() => answers.length === 1, { description: "the first answer" });

  await t.client.stopAgent({ guildId: "g1", agentId: "hoarder", keepState: true });
  expect(await t.registry.getLocation("g1", "hoarder")).toBeUndefined();
  expect((await t.bus.readAgent("g1", "hoarder"))?.state).toBe('{"kept":["before"]}');
  // Published while no copy runs: it waits on the bus for the next one.
  await app.publish("inbox:hoarder", { keep: "while stopped" });
  await t.client.createAgent(createRequest("g1", spec));
  await waitFor(() => answers.length === 2, { description: "the answer of the next copy" });
  expect(answers.map((m) => m.payload)).toEqual([
    { kept: ["before"] },
    { kept: ["before", "while stopped"] },
  ]);

  await t.client.stopAgent({ guildId: "g1", agentId: "hoarder" });
  expect(await t.bus.readAgent("g1", "hoarder")).toBeUndefined();
  await app.close();
});

it("hands a slow agent one message at a time, so a stop waits for the handler in progress only", async () => {
  const t = await startHost();
  const app = connectGuildClient(t.bus, { guildId: "g1", id: "app" });
  const { answers } = await inboxOf(t, "app");
  await t.client.createAgent(createRequest("g1", fixtureSpec("plodder", "Plodder")));
  for (let i = 0; i < 6; i++) await app.publish("inbox:plodder", { add: 1, workMs: 300 });
  await waitFor(() => answers.length >= 1, { description: "the first answer" });

  await t.client.stopAgent({ guildId: "g1", agentId: "plodder", keepState: true });
  // Handed six at once, the process would have had to handle them all before stopping.
  const count = (
    JSON.parse((await t.bus.readAgent("g1", "plodder"))?.state ?? "{}") as {
      count: number;
    }
  ).count;
  expect(count).toBeLessThanOrEqual(2);
  expect(answers).toHaveLength(count);
  // The rest wait on the bus for the next copy, which counts on from the committed state.
  await t.client.createAgent(createRequest("g1", fixtureSpec("plodder", "Plodder")));
  await waitFor(() => answers.length === 6, { description: "all six answers" });
  expect(answers.map((m) => (m.payload as { count: number }).count)).toEqual([1, 2, 3, 4, 5, 6]);
  await t.client.stopAgent({ guildId: "g1", agentId: "plodder" });
  await app.close();
});

it("kills a handler stuck past the stop timeout at once, keeping what was committed before it", async () => {
  const stopTimeoutMs = 1_500;
  const t = await startHost({ stopTimeoutMs });
  const app = connectGuildClient(t.bus, { guildId: "g1", id: "app" });
  const { answers } = await inboxOf(t, "app");
  const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("stuck", "Hang")));
  await app.publish("inbox:stuck", { add: 2 });
  await waitFor(() => answers.length === 1, { description: "the count after the first add" });
  await app.publish("inbox:stuck", { hang: true });
  await waitFor(
    async () => {
      for await (const line of t.client.getAgentLogs({ guildId: "g1", agentId: "stuck" })) {
        if (line.text === "hanging") return true;
      }
      return false;
    },
    { description: "the handler to hang" },
  );

  const startedAt = Date.now();
  await t.client.stopAgent({ guildId: "g1", agentId: "stuck", keepState: true });
  const tookMs = Date.now() - startedAt;
  expect(isRunning(agent?.pid ?? 0)).toBe(false);
  // The stop waited one timeout for the handler, then killed the process: a second timeout
  // (SIGTERM, which the runner answers only after the handler) would double it.
  expect(tookMs).toBeGreaterThanOrEqual(stopTimeoutMs - 50);
  expect(tookMs).toBeLessThan(stopTimeoutMs * 2 - 300);
  expect((await t.bus.readAgent("g1", "stuck"))?.state).toBe('{"count":2}');
  await app.close();
});
