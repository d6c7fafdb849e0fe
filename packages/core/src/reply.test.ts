import { describe, expect, it } from "vitest";
import { createMessage, inboxTopic } from "./message.js";
import { replyTarget } from "./reply.js";

describe("replyTarget", () => {
  const fromAlice = (topic: string, threadId?: string) =>
    createMessage({ topic, sender: { id: "alice" }, payload: null, ...(threadId && { threadId }) });

  it("answers on the message's topic, starting a thread at it", () => {
    const message = fromAlice("news");
    expect(replyTarget(message, "bob")).toEqual({
      topic: "news",
      threadId: message.id,
      inResponseTo: message.id,
    });
  });

  it("keeps an existing thread", () => {
    expect(replyTarget(fromAlice("news", "t-1"), "bob").threadId).toBe("t-1");
  });

  it("answers a message in the agent's own inbox in the sender's inbox", () => {
    expect(replyTarget(fromAlice(inboxTopic("bob")), "bob").topic).toBe(inboxTopic("alice"));
    expect(replyTarget(fromAlice(inboxTopic("carol")), "bob").topic).toBe(inboxTopic("carol"));
  });

  it("lets explicit options win", () => {
    const target = replyTarget(fromAlice("news"), "bob", {
      topic: "elsewhere",
      threadId: "t-9",
      inResponseTo: "m-1",
    });
    expect(target).toEqual({ topic: "elsewhere", threadId: "t-9", inResponseTo: "m-1" });
  });
});
