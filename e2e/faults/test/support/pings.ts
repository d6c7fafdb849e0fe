// Messaging as the scenarios see it: pings on a guild's default topic that every probe agent
// answers with a pong, and a record of every pong, so a test can tell that each agent answers
// and that no agent ever answers one ping twice (which two live copies of it would do).
import { randomUUID } from "node:crypto";
import { connectGuildClient, type GuildClient, type MessageBus } from "@guildhall/core";
import { waitFor } from "@guildhall/testing";

interface Pong {
  probe: "pong";
  token: string;
  agentId: string;
}

function isPong(payload: unknown): payload is Pong {
  return typeof payload === "object" && payload !== null && (payload as Pong).probe === "pong";
}

/** A guild client that pings and counts pongs. */
export class GuildPings {
  readonly #client: GuildClient;
  /** token → agent id → pongs. */
  readonly #pongs = new Map<string, Map<string, number>>();
  #timer: NodeJS.Timeout | undefined;

  private constructor(client: GuildClient) {
    this.#client = client;
  }

  /** Subscribes to the guild's default topic. */
  static async open(bus: MessageBus, guildId: string): Promise<GuildPings> {
    const client = connectGuildClient(bus, { guildId, id: `pinger-${randomUUID().slice(0, 8)}` });
    const pings = new GuildPings(client);
    await client.subscribe("default_topic", (message) => {
      if (!isPong(message.payload)) return;
      const { token, agentId } = message.payload;
      const byAgent = pings.#pongs.get(token) ?? new Map<string, number>();
      byAgent.set(agentId, (byAgent.get(agentId) ?? 0) + 1);
      pings.#pongs.set(token, byAgent);
    });
    return pings;
  }

  /** Publishes one ping and returns its token. */
  async ping(): Promise<string> {
    const token = randomUUID();
    this.#pongs.set(token, new Map());
    await this.#client.publish("default_topic", { probe: "ping", token });
    return token;
  }

  /**
   * Pings until every agent in `ids` answered a ping of this call, pinging again after 1 s, 2 s,
   * 4 s… (an agent that was down misses nothing now, but one not yet placed may); resolves with
   * the milliseconds it took. Any ping of the call counts: an agent working through a backlog
   * answers the newest ping last, and each ping adds one pong per agent to every agent's work.
   */
  async pingAll(ids: readonly string[], timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    const tokens = [await this.ping()];
    const answered = (id: string): boolean =>
      tokens.some((token) => (this.#pongs.get(token)?.get(id) ?? 0) > 0);
    let pingedAt = Date.now();
    let gapMs = 1_000;
    await waitFor(
      async () => {
        if (ids.every(answered)) return true;
        if (Date.now() - pingedAt >= gapMs) {
          tokens.push(await this.ping());
          pingedAt = Date.now();
          gapMs *= 2;
        }
        return false;
      },
      { description: `pongs of all ${ids.length} agents`, timeoutMs: timeoutMs },
    );
    return Date.now() - started;
  }

  /** Pings every `intervalMs` until {@link stopPinging}; failed publishes are left to the record. */
  startPinging(intervalMs: number): void {
    this.#timer = setInterval(() => void this.ping().catch(() => undefined), intervalMs);
  }

  stopPinging(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Agents that answered a ping more than once, as `<agent> ×<n>`. */
  duplicates(): string[] {
    const out: string[] = [];
    for (const byAgent of this.#pongs.values()) {
      for (const [agentId, count] of byAgent) if (count > 1) out.push(`${agentId} ×${count}`);
    }
    return out;
  }

  async close(): Promise<void> {
    this.stopPinging();
    await this.#client.close();
  }
}
