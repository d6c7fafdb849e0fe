// What the durable agents of a scenario did, seen three ways: the state they committed (read from
// the bus's agent store: each message taken in exactly once), the replies they released (each
// sent exactly once), and the handled files their handlers append to (every run, so at least
// once: a run a crash or a stale copy made shows there and nowhere else).
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import type { DurableMessageBus } from "@guildhall/core";
import { waitFor } from "@guildhall/testing";
import type { NumberedTraffic, TrafficKind } from "./traffic.js";

/** An agent under traffic and the file its handler notes each run in. */
export interface LedgerAgent {
  readonly agentId: string;
  readonly kind: TrafficKind;
  readonly handledFile: string;
}

/** One handler run, as noted in a handled file. */
export interface HandlerRun {
  readonly seq: number;
  readonly pid: number;
  readonly at: number;
}

interface StoredState {
  readonly handled?: number[];
  readonly count?: number;
}

const REPLY_KIND: Record<TrafficKind, string> = { record: "recorded", count: "counted" };

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The checks of zero loss and exact counts over a guild's durable agents. */
export class DeliveryLedger {
  readonly #bus: DurableMessageBus;
  readonly #guildId: string;
  readonly #agents: readonly LedgerAgent[];
  readonly #traffic: NumberedTraffic;

  constructor(
    bus: DurableMessageBus,
    guildId: string,
    agents: readonly LedgerAgent[],
    traffic: NumberedTraffic,
  ) {
    this.#bus = bus;
    this.#guildId = guildId;
    this.#agents = agents;
    this.#traffic = traffic;
  }

  /** The agent's committed state, as the bus stores it. */
  async stored(agentId: string): Promise<StoredState | undefined> {
    const checkpoint = await this.#bus.readAgent(this.#guildId, agentId);
    return checkpoint?.state === undefined
      ? undefined
      : (JSON.parse(checkpoint.state) as StoredState);
  }

  /** Every run the agent's handlers noted, in file order. */
  runs(agentId: string): HandlerRun[] {
    const agent = this.#agent(agentId);
    return readFileSync(agent.handledFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const [seq, pid, at] = line.split(" ").map(Number);
        return { seq: seq!, pid: pid!, at: at! };
      });
  }

  /** Handler runs beyond the first, over all agents: messages handled more than once. */
  redeliveries(): number {
    let extra = 0;
    for (const { agentId } of this.#agents) {
      const runs = this.runs(agentId);
      extra += runs.length - new Set(runs.map((r) => r.seq)).size;
    }
    return extra;
  }

  /**
   * Waits until every agent has committed as many messages as it was sent and its replies to
   * them arrived; fails at the deadline naming the agents still behind.
   */
  async drained(timeoutMs: number): Promise<void> {
    let behind: string[] = [];
    try {
      await waitFor(
        async () => {
          behind = [];
          for (const { agentId, kind } of this.#agents) {
            const sent = this.#traffic.accepted(agentId);
            const state = await this.stored(agentId);
            const committed =
              kind === "record" ? (state?.handled?.length ?? 0) : (state?.count ?? 0);
            const answered = this.#traffic
              .replies(agentId)
              .filter((r) => r.kind === REPLY_KIND[kind]).length;
            if (committed < sent || answered < sent) {
              behind.push(`${agentId}: sent ${sent}, committed ${committed}, answered ${answered}`);
            }
          }
          return behind.length === 0;
        },
        {
          description: "every agent to commit and answer every message sent to it",
          timeoutMs: timeoutMs,
          intervalMs: 100,
        },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; behind: ${behind.join("; ")}`);
    }
  }

  /**
   * Zero loss and exact counts: each agent's committed state holds every message it was sent
   * exactly once, in order; its replies answer each exactly once (a counter's with the count
   * that message made); its handlers ran for every one of them; and no reply of a handler that
   * threw or crashed was ever released.
   */
  async checkExact(): Promise<void> {
    for (const { agentId, kind } of this.#agents) {
      const sent = range(this.#traffic.accepted(agentId));
      const state = await this.stored(agentId);
      if (kind === "record") {
        expect(state?.handled, `${agentId}: committed sequence numbers`).toEqual(sent);
      } else {
        expect(state?.count, `${agentId}: committed count`).toBe(sent.length);
      }
      const replies = this.#traffic.replies(agentId);
      const numbered = replies.filter((r) => r.kind === REPLY_KIND[kind]);
      expect(
        numbered.map((r) => r.seq).sort((a, b) => a! - b!),
        `${agentId}: replies, one per message`,
      ).toEqual(sent);
      if (kind === "count") {
        const wrong = numbered.filter((r) => r.count !== r.seq);
        expect(wrong, `${agentId}: replies whose count is not their message's number`).toEqual([]);
      }
      expect(
        replies.filter((r) => r.kind === "poisoned" || r.kind === "crashed"),
        `${agentId}: replies of handlers that failed`,
      ).toEqual([]);
      const handled = new Set(this.runs(agentId).map((r) => r.seq));
      expect(
        sent.filter((seq) => !handled.has(seq)),
        `${agentId}: messages no handler ever ran for`,
      ).toEqual([]);
      expect(handled.size, `${agentId}: handled messages that were never sent`).toBe(sent.length);
    }
  }

  #agent(agentId: string): LedgerAgent {
    const agent = this.#agents.find((a) => a.agentId === agentId);
    if (agent === undefined) throw new Error(`no ledger of ${agentId}`);
    return agent;
  }
}
