// Shared by the integration tests: process accounting from /proc, deadline-bounded waits, and a
// publish handler that records what agents sent.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Message } from "@guildhall/core";
import type {
  AgentProcessManager,
  AgentProcessManagerEvents,
  AgentRef,
  PublishHandler,
  PublishRequest,
} from "@guildhall/process-manager";

/** The fixture agents directory (an allowlist entry), without a trailing slash. */
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));

/** `"<fixtures>/agents.mjs#<name>"`. */
export function fixtureClass(name: string, file = "agents.mjs"): string {
  return `${FIXTURES}/${file}#${name}`;
}

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** Pids whose parent is this (test) process, zombies included. */
export function childPids(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === process.pid) out.push(Number(entry));
  }
  return out.sort((a, b) => a - b);
}

/** Whether `pid` is a live process (a zombie counts as gone but is reported by childPids). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** Polls `probe` until it returns something other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
    const message: Message = {
      id: `msg-${++sequence}`,
      topic: request.topic,
      sender: { id: agent.agentId, name: agent.agentName },
      format: request.format,
      payload: request.payload,
      timestamp: Date.now(),
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
