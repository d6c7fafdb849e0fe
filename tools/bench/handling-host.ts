// An agent host in a process of its own, as `guildhall host` runs one (createAgentHost on a
// RedisBus and a RedisLocationRegistry), for the durable-handling figures. Started with
// `durable`, it is that host. Started with `plain`, its bus has the durable side taken out
// (WithoutCommits): the yardstick of durable handling, the same host and agent code whose commit
// is only the publish of what the handler sent. `guildhall host` cannot be given such a bus,
// hence this script for both, so that the commit is the only difference between them.
//
// It tells its parent its address over IPC, and closes (stopping its agents) on SIGTERM or when
// the parent goes.
//
//   fork(handling-host.js, [durable|plain, redisUrl, prefix])
import type {
  AgentCheckpoint,
  AgentCommit,
  ClaimAgentOptions,
  CommitResult,
  DurableMessageBus,
  FireTimerResult,
  Message,
  MessageHandler,
  SubscribeOptions,
  Subscription,
} from "@guildhall/core";
import { RedisBus } from "@guildhall/bus-redis";
import { createAgentHost } from "@guildhall/host-server";
import { RedisLocationRegistry } from "@guildhall/registry";
import { AGENTS_DIR } from "./paths.js";

/**
 * A RedisBus whose agents are not durable: a claim starts every topic at its end with no state,
 * and a commit publishes the handlers' sends, in order in one write as a commit's script does,
 * and stores nothing else. What a host cannot do less of and still deliver messages and their
 * answers.
 */
class WithoutCommits implements DurableMessageBus {
  readonly #bus: RedisBus;

  constructor(bus: RedisBus) {
    this.#bus = bus;
  }

  get maxMessageBytes(): number {
    return this.#bus.maxMessageBytes;
  }

  publish(guildId: string, message: Message): Promise<void> {
    return this.#bus.publish(guildId, message);
  }

  subscribe(
    guildId: string,
    topic: string,
    handler: MessageHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    return this.#bus.subscribe(guildId, topic, handler, options);
  }

  close(): Promise<void> {
    return this.#bus.close();
  }

  async claimAgent(
    _guildId: string,
    _agentId: string,
    _options: ClaimAgentOptions,
  ): Promise<AgentCheckpoint> {
    return { state: undefined, positions: {}, commits: 0, timers: [] };
  }

  async commitAgent(guildId: string, _agentId: string, commit: AgentCommit): Promise<CommitResult> {
    // Issued together, they go out on one connection in this order.
    await Promise.all(commit.messages.map((message) => this.#bus.publish(guildId, message)));
    return "committed";
  }

  async deleteAgent(): Promise<void> {}

  // The agents measured here set no timers, so there is never one to release.
  async fireTimer(): Promise<FireTimerResult> {
    return "gone";
  }

  async readAgent(): Promise<AgentCheckpoint | undefined> {
    return undefined;
  }
}

const [mode, redisUrl, prefix] = process.argv.slice(2);
if ((mode !== "durable" && mode !== "plain") || redisUrl === undefined || prefix === undefined) {
  console.error("usage: handling-host.js durable|plain <redis-url> <key prefix>");
  process.exit(2);
}
const redisBus = new RedisBus({ url: redisUrl, prefix });
const registry = new RedisLocationRegistry({ url: redisUrl, prefix });
const host = createAgentHost({
  port: 0,
  registry,
  bus: mode === "durable" ? redisBus : new WithoutCommits(redisBus),
  agentModules: [AGENTS_DIR],
  metricsPort: false,
  logLevel: "warn",
  // Agents are created once, untimed: idle runners would only be more processes to wait on.
  warmPoolSize: 0,
});
let closing: Promise<void> | undefined;
const close = (): Promise<void> =>
  (closing ??= (async () => {
    await host.close();
    await Promise.allSettled([registry.close(), redisBus.close()]);
  })());
process.on("SIGTERM", () => void close().finally(() => process.exit(0)));
process.on("disconnect", () => void close().finally(() => process.exit(0)));
await host.start();
process.send?.({ address: host.address });
