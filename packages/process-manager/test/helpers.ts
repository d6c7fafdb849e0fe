// Shared by the integration tests: process accounting from /proc and a publish handler that
// records what agents sent.
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, expect } from "vitest";
import { childPids as allChildPids, isRunning } from "../../../tools/test-support/processes.js";
import type { Message } from "@guildhall/core";
import {
  createAgentProcessManager,
  type AgentProcessManager,
  type AgentProcessManagerEvents,
  type AgentProcessManagerOptions,
  type AgentRef,
  type PublishHandler,
  type PublishRequest,
} from "@guildhall/process-manager";

/** The fixture agents directory (an allowlist entry), without a trailing slash. */
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));

/** `"<fixtures>/agents.mjs#<name>"`. */
export function fixtureClass(name: string, file = "agents.mjs"): string {
  return `${FIXTURES}/${file}#${name}`;
}

export { isRunning };

/** Pids whose parent is this (test) process, zombies included: reaping is what is tested. */
export function childPids(): number[] {
  return allChildPids(process.pid, { includeZombies: true });
}

/**
 * `create` makes managers that may load the fixture agents. Each test's managers are shut down
 * after it, and then every process they forked must be gone, reaped (no zombie) and not orphaned:
 * the child processes must be `baseline()`, those of before the file's first test.
 */
export function managersPerTest(): {
  create: (options?: AgentProcessManagerOptions) => Promise<AgentProcessManager>;
  baseline: () => number[];
} {
  let baseline: number[] = [];
  const managers: AgentProcessManager[] = [];
  beforeAll(() => {
    baseline = childPids();
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((manager) => manager.shutdown()));
    expect(childPids()).toEqual(baseline);
  });
  return {
    create: async (options = {}) => {
      const created = await createAgentProcessManager({ agentModules: [FIXTURES], ...options });
      managers.push(created);
      return created;
    },
    baseline: () => baseline,
  };
}

/** The next event of `type` that matches `predicate`. */
export function nextEvent<K extends keyof AgentProcessManagerEvents>(
  manager: AgentProcessManager,
  type: K,
  predicate: (event: AgentProcessManagerEvents[K]) => boolean = () => true,
): Promise<AgentProcessManagerEvents[K]> {
  return new Promise((resolve) => {
    const off = manager.on(type, (event) => {
      if (!predicate(event)) return;
      off();
      resolve(event);
    });
  });
}

/** Records events of every type, in order. */
export function recordEvents(
  manager: AgentProcessManager,
): AgentProcessManagerEvents["lifecycle"][] {
  const events: AgentProcessManagerEvents["lifecycle"][] = [];
  manager.on("lifecycle", (event) => events.push(event));
  return events;
}

/** One publish an agent asked for, and what the fake bus made of it. */
export interface Published {
  readonly agent: AgentRef;
  readonly request: PublishRequest;
  readonly message: Message;
}

/** A publish handler standing in for a host's bus: stamps the sender, records every message. */
export function recordingPublisher(): { onPublish: PublishHandler; published: Published[] } {
  const published: Published[] = [];
  let sequence = 0;
  const onPublish: PublishHandler = (agent, request) => {
    // As a host does: a handler's send keeps the id and time its process gave it.
    sequence += 1;
    const message: Message = {
      id: request.id ?? `msg-${sequence}`,
      topic: request.topic,
      sender: { id: agent.agentId, name: agent.agentName },
      format: request.format,
      payload: request.payload,
      timestamp: request.timestamp ?? Date.now(),
      ...(request.threadId !== undefined && { threadId: request.threadId }),
      ...(request.inResponseTo !== undefined && { inResponseTo: request.inResponseTo }),
    };
    published.push({ agent, request, message });
    return Promise.resolve(message);
  };
  return { onPublish, published };
}

/** A message as a guild client would send it. */
export function clientMessage(
  id: string,
  payload: Message["payload"],
  extra: Partial<Message> = {},
): Message {
  return {
    id,
    topic: "default_topic",
    sender: { id: "client" },
    format: "json",
    payload,
    timestamp: Date.now(),
    ...extra,
  };
}
