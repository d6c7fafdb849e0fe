// What a host keeps of an agent that sleeps (DESIGN section 13): no process, no Redis connection
// and no blocking read of its own, only one subscription per topic on the host's bus (whose one
// reader serves every subscription of the host) from the agent's committed positions, and the
// Node timer of its soonest durable timer. The first message on any of them wakes the agent; a
// timer wakes it by putting its message on the agent's inbox.
import type { AgentCheckpoint, DurableMessageBus, Subscription } from "@guildhall/core";
import type { HostedAgent } from "./hosted-agent.js";
import type { HostedAgentInfo } from "./proto-conversion.js";

/**
 * Subscribes to each of the agent's topics after its committed position there; `wake` is called
 * on the first message any of them brings (the agent's own messages excepted), at most once per
 * watch. A topic with no committed position is watched from its end, as a first claim would.
 */
export async function watchTopics(
  bus: DurableMessageBus,
  entry: HostedAgent,
  positions: AgentCheckpoint["positions"],
  wake: () => void,
): Promise<Subscription[]> {
  let woken = false;
  const handler = (): void => {
    if (woken) return;
    woken = true;
    wake();
  };
  const { guild, spec } = entry;
  const subscriptions: Subscription[] = [];
  try {
    for (const topic of entry.topics) {
      const after = positions[topic];
      subscriptions.push(
        await bus.subscribe(guild.id, topic, handler, {
          excludeSender: spec.id,
          ...(after !== undefined && { after }),
        }),
      );
    }
  } catch (error) {
    await unwatchTopics(subscriptions);
    throw error;
  }
  return subscriptions;
}

/** Ends a watch; never throws (an unsubscribe that fails leaves a handler that wakes nobody). */
export async function unwatchTopics(
  subscriptions: readonly Subscription[] | undefined,
): Promise<void> {
  if (subscriptions === undefined) return;
  await Promise.all(subscriptions.map((s) => s.unsubscribe().catch(() => undefined)));
}

/** The agent's idle time before it sleeps, in ms: its spec's, else the host's; 0 never. */
export function hibernateAfterMsOf(entry: HostedAgent, hostDefault: number): number {
  return entry.spec.hibernateAfterMs ?? hostDefault;
}

/**
 * Whether an awake agent has been idle long enough to sleep at `now`: no message handled for its
 * `hibernateAfterMs`, none in hand, and no timer due within that time again (sleeping only to
 * wake for it would cost a process start for nothing).
 */
export function isIdle(entry: HostedAgent, hibernateAfterMs: number, now: number): boolean {
  if (hibernateAfterMs <= 0 || entry.phase !== "running") return false;
  const session = entry.session;
  if (session === undefined || session.busy) return false;
  if (now - entry.lastActiveAt < hibernateAfterMs) return false;
  const due = entry.timers?.nextDueAt;
  return due === undefined || due - now > hibernateAfterMs;
}

/** What GetAgentInfo and ListAgents report for an agent that holds no process. */
export function sleepingInfo(entry: HostedAgent): HostedAgentInfo {
  return {
    guildId: entry.guild.id,
    agentId: entry.spec.id,
    agentName: entry.spec.name,
    spec: entry.spec,
    state: "hibernated",
    pid: undefined,
    createdAt: entry.createdAt,
    startedAt: entry.lastActiveAt,
    restarts: 0,
    memoryRssBytes: undefined,
    lastError: undefined,
    lastExit: undefined,
  };
}

/**
 * Runs at most `limit` wakes at once, the others in the order they came. A wake forks a process
 * from the host, and a fork costs the host's event loop time that grows with the host's memory:
 * a burst of hundreds at once would starve the heartbeat until the host lost its lease.
 */
export class WakeLimiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes on directly, after a turn of the event loop for timers and I/O.
      if (next === undefined) this.#running--;
      else setImmediate(next);
    }
  }
}
