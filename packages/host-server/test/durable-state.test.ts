// What a host does with an agent's durable state beyond the engine contract: corrupt stored bytes
// refuse the start without being touched, and a state over the host's limit is a failed handler.
import { Code } from "@connectrpc/connect";
import { connectGuildClient, type Message } from "@guildhall/core";
import { expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { childPids, createRequest, fixtureSpec, rejection, useTestHosts } from "./helpers.js";

const startHost = useTestHosts();

it("refuses to start an agent whose stored state is not JSON, and keeps the bytes for inspection", async () => {
  const t = await startHost();
  const topics = ["default_topic", "inbox:scribe"];
  await t.bus.claimAgent("g1", "scribe", { epoch: 1, topics });
  await t.bus.commitAgent("g1", "scribe", {
    epoch: 1,
    sequence: 1,
    state: "{ not json",
    messages: [],
  });

  const error = await rejection(
    t.client.createAgent(createRequest("g1", fixtureSpec("scribe", "Echo"))),
  );
  expect(error.code).toBe(Code.FailedPrecondition);
  expect(error.rawMessage).toMatch(
    /the stored state of agent "scribe" in guild "g1" is not JSON .*kept as they are for inspection/,
  );
  expect((await t.bus.readAgent("g1", "scribe"))?.state).toBe("{ not json");
  expect(await t.registry.getLocation("g1", "scribe")).toBeUndefined();
  expect(childPids()).toEqual([]);
});

it("treats a handler that leaves a state over maxStateBytes as one that threw, naming the limit", async () => {
  const t = await startHost({ maxStateBytes: 64 });
  await t.client.createAgent(createRequest("g1", fixtureSpec("hoarder", "Hoarder")));
  const app = connectGuildClient(t.bus, { guildId: "g1", id: "app" });
  const answers: Message[] = [];
  await app.subscribe("inbox:app", (m) => {
    answers.push(m);
  });
  await app.publish("inbox:hoarder", { keep: "x".repeat(100) });
  await app.publish("inbox:hoarder", { keep: "small" });
  await waitFor(() => answers.length >= 1, { description: "the second answer" });
  // The first handler's state and reply were dropped; the second saw the committed state.
  expect(answers.map((m) => m.payload)).toEqual([{ kept: ["small"] }]);
  expect(JSON.parse((await t.bus.readAgent("g1", "hoarder"))?.state ?? "null")).toEqual({
    kept: ["small"],
  });
  const info = await t.client.getAgentInfo({ guildId: "g1", agentId: "hoarder" });
  expect(info.agent?.lastError).toMatch(/state is \d+ bytes of JSON, over the limit of 64/);
  await app.close();
});
