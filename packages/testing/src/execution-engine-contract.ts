// The execution-engine contract (DESIGN section 5) as a vitest suite. Every engine runs it: the
// in-process engine on a MemoryBus, local clusters of real hosts, Redis-backed clusters. It only
// observes engines through their interface and the bus, so agents may run in other processes; it
// waits on messages and deadlines, never on fixed sleeps.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { GuildhallError, connectGuildClient, inboxTopic } from "@guildhall/core";
import type {
  AgentSpec,
  ExecutionEngine,
  GuildClient,
  GuildSpec,
  JsonValue,
  Message,
  MessageBus,
} from "@guildhall/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { recordMessages } from "./message-recorder.js";
import type { MessageRecorder } from "./message-recorder.js";
import { probeAgentsModule, probeClassName } from "./probe-module.js";
import type { ProbeAgentName } from "./probe-module.js";

/** What the suite runs against. */
export interface ExecutionEngineContractEnvironment {
  /** The engine under test. It must be able to load `probeAgentsModule` (allow it). */
  engine: ExecutionEngine;
  /** A bus connected to the same messages as the engine's agents; the suite's clients use it. */
  bus: MessageBus;
  /**
   * Releases everything `setup` started (hosts, servers, the bus). Runs after the suite called
   * `engine.shutdown({ stopAgents: true })`. Default: nothing.
   */
  teardown?: () => Promise<void>;
  /**
   * Ends an agent's copy abruptly, as a crash does, so that the engine brings it back by itself.
   * Default: the engine's `restartAgent` when it has one (InProcessExecutionEngine), else SIGKILL
   * of the process the agent reports it runs in.
   */
  crashAgent?: (guildId: string, agentId: string, pid: number) => Promise<void>;
}

/**
 * Starts a fresh engine and bus. The suite calls it once for most tests (which isolate themselves
 * in guilds of their own) and once more for the shutdown test.
 */
export type ExecutionEngineContractSetup = () =>
  ExecutionEngineContractEnvironment | Promise<ExecutionEngineContractEnvironment>;

/** Options of {@link describeExecutionEngineContract}. */
export interface ExecutionEngineContractOptions {
  /** How long to wait for an expected message or state, in ms. Default 10,000. */
  waitTimeoutMs?: number;
  /** The timeout of each test, in ms. Default 60,000. */
  testTimeoutMs?: number;
  /** The timeout of `setup` and `teardown`, in ms. Default 120,000. */
  setupTimeoutMs?: number;
}

function field(message: Message, key: string): JsonValue | undefined {
  const payload = message.payload;
  return typeof payload === "object" && payload !== null && !Array.isArray(payload)
    ? payload[key]
    : undefined;
}

/** Pings, pongs and lifecycle events: what the suite sends and the probes answer with. */
function isProbeTraffic(message: Message): boolean {
  return field(message, "probe") !== undefined || field(message, "event") !== undefined;
}

/**
 * Ends an agent abruptly: an in-process engine restarts it as a crash would; an agent in a
 * process of its own gets SIGKILL. Never the test's own process.
 */
function defaultCrashFor(engine: ExecutionEngine) {
  return async (guildId: string, agentId: string, pid: number): Promise<void> => {
    const restart = (engine as { restartAgent?: (g: string, a: string) => Promise<void> })
      .restartAgent;
    if (typeof restart === "function") return restart.call(engine, guildId, agentId);
    if (pid === process.pid) {
      throw new Error(
        "the agent runs in the test's own process and its engine has no restartAgent: pass crashAgent in the contract environment",
      );
    }
    process.kill(pid, "SIGKILL");
  };
}

function probeSpec(
  id: string,
  probe: ProbeAgentName,
  extra: Partial<Omit<AgentSpec, "id" | "className">> = {},
): AgentSpec {
  return { id, name: extra.name ?? id, className: probeClassName(probe), ...extra };
}

/**
 * Declares the execution-engine conformance suite (vitest) for one engine.
 *
 * @param name - names the engine in the test report
 * @param setup - starts the engine and its bus; see {@link ExecutionEngineContractEnvironment}
 *
 * @example
 * ```ts
 * describeExecutionEngineContract("InProcessExecutionEngine", () => {
 *   const bus = new MemoryBus();
 *   const engine = new InProcessExecutionEngine({ bus, agentModules: [probeAgentsModule] });
 *   return { engine, bus, teardown: () => bus.close() };
 * });
 * ```
 */
export function describeExecutionEngineContract(
  name: string,
  setup: ExecutionEngineContractSetup,
  options: ExecutionEngineContractOptions = {},
): void {
  const waitTimeoutMs = options.waitTimeoutMs ?? 10_000;
  const testTimeoutMs = options.testTimeoutMs ?? 60_000;
  const setupTimeoutMs = options.setupTimeoutMs ?? 120_000;

  describe(`ExecutionEngine contract: ${name}`, () => {
    let current: ExecutionEngineContractEnvironment | undefined;
    const cleanups: (() => Promise<unknown>)[] = [];

    const env = (): ExecutionEngineContractEnvironment => {
      if (current === undefined) throw new Error("the contract suite's setup did not complete");
      return current;
    };
    const engine = () => env().engine;

    function newGuild(label: string): GuildSpec {
      return {
        id: `contract-${label}-${randomUUID().slice(0, 8)}`,
        name: `Contract ${label}`,
        agents: [],
      };
    }

    function topicOf(guild: GuildSpec): string {
      return guild.defaultTopic ?? "default_topic";
    }

    async function run(guild: GuildSpec, spec: AgentSpec, on = engine()): Promise<void> {
      await on.runAgent(guild, spec);
      cleanups.push(() => on.stopAgent(guild.id, spec.id));
    }

    function client(guild: GuildSpec, bus = env().bus): GuildClient {
      const connected = connectGuildClient(bus, {
        guildId: guild.id,
        id: `contract-client-${randomUUID().slice(0, 8)}`,
        name: "Contract client",
      });
      cleanups.push(() => connected.close());
      return connected;
    }

    async function record(from: GuildClient, topic: string): Promise<MessageRecorder> {
      const recorder = await recordMessages(from, topic, { timeoutMs: waitTimeoutMs });
      cleanups.push(() => recorder.stop());
      return recorder;
    }

    /**
     * Pings `agentIds` on the recorder's topic and waits for each pong. Agents handle one message
     * at a time, so afterwards the recorder holds everything they published about earlier
     * messages of the topic. Returns the index just past the last pong.
     */
    async function sentinel(
      from: GuildClient,
      recorder: MessageRecorder,
      agentIds: readonly string[],
    ): Promise<number> {
      const token = randomUUID();
      const since = recorder.messages.length;
      await from.publish(recorder.topic, { probe: "ping", token });
      let end = since;
      for (const agentId of agentIds) {
        const pong = await recorder.waitFor(
          (m) => field(m, "token") === token && m.sender.id === agentId,
          { since, description: `the pong of "${agentId}"` },
        );
        end = Math.max(end, recorder.messages.indexOf(pong) + 1);
      }
      return end;
    }

    async function expectNothingLeft(guild: GuildSpec, agentId: string): Promise<void> {
      expect(await engine().isAgentRunning(guild.id, agentId)).toBe(false);
      expect([...(await engine().getAgentsInGuild(guild.id)).keys()]).not.toContain(agentId);
    }

    beforeAll(async () => {
      current = await setup();
    }, setupTimeoutMs);

    afterEach(async () => {
      const failures: unknown[] = [];
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) {
        throw new AggregateError(failures, "cleaning up after the test failed");
      }
    }, setupTimeoutMs);

    afterAll(async () => {
      if (current === undefined) return;
      try {
        await current.engine.shutdown({ stopAgents: true });
      } finally {
        await current.teardown?.();
      }
    }, setupTimeoutMs);

    it(
      "runs the initiator/responder flow, and a stopped agent is gone",
      async () => {
        const guild = newGuild("flow");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        await run(guild, probeSpec("initiator", "InitiatorAgent", { name: "Initiator" }));
        await run(guild, probeSpec("responder", "ResponderAgent", { name: "Responder" }));

        await app.publish(topic, { content: "Initiate Flow" });
        const isAck = (m: Message) => {
          const content = field(m, "content");
          return typeof content === "string" && content.startsWith("Acknowledged: ");
        };
        await seen.waitFor(isAck, {
          description: "the responder's acknowledgement",
        });
        const end = await sentinel(app, seen, ["initiator", "responder"]);
        const flow = seen.messages.slice(0, end).filter((m) => !isProbeTraffic(m));
        expect(flow.map((m) => [m.sender.id, m.payload])).toEqual([
          ["initiator", { content: "Hello Responder!" }],
          ["responder", { content: `Acknowledged: ${flow[0]?.id}` }],
        ]);
        const [hello, ack] = flow as [Message, Message];
        expect(hello.topic).toBe(topic);
        expect(ack.topic).toBe(topic);
        expect(ack.inResponseTo).toBe(hello.id);
        expect(ack.threadId).toBe(hello.threadId ?? hello.id);

        await engine().stopAgent(guild.id, "responder");
        expect(await engine().isAgentRunning(guild.id, "responder")).toBe(false);
        expect(await engine().isAgentRunning(guild.id, "initiator")).toBe(true);
        expect([...(await engine().getAgentsInGuild(guild.id)).keys()]).toEqual(["initiator"]);
        expect(await engine().findAgentsByName(guild.id, "Responder")).toEqual([]);

        const mark = seen.messages.length;
        await app.publish(topic, { content: "Initiate Flow" });
        await seen.waitFor((m) => field(m, "content") === "Hello Responder!", {
          since: mark,
          description: "the second hello",
        });
        const later = await sentinel(app, seen, ["initiator"]);
        expect(
          seen.messages
            .slice(mark, later)
            .filter((m) => !isProbeTraffic(m))
            .map((m) => [m.sender.id, m.payload]),
        ).toEqual([["initiator", { content: "Hello Responder!" }]]);
      },
      testTimeoutMs,
    );

    it(
      "resolves runAgent only once the agent is ready",
      async () => {
        const guild = newGuild("ready");
        const app = client(guild);
        const other = client(guild);
        const events = await record(app, "contract-events");
        const echoes = await record(app, "contract-echoes");
        await run(
          guild,
          probeSpec("slow-starter", "EchoAgent", {
            properties: { eventsTopic: "contract-events", startDelayMs: 200 },
          }),
        );

        // Subscribed: a message published right away reaches it.
        const sent = { text: "right after runAgent", echoTo: "contract-echoes" };
        await app.publish(inboxTopic("slow-starter"), sent);
        const echo = await echoes.waitFor((m) => m.sender.id === "slow-starter", {
          description: "the echo of a message sent right after runAgent resolved",
        });
        expect(echo.payload).toEqual({ echo: sent, agentId: "slow-starter" });

        // onStart has run: what it published comes before anything published after runAgent.
        expect(await engine().isAgentRunning(guild.id, "slow-starter")).toBe(true);
        await other.publish("contract-events", { marker: "after runAgent" });
        const marker = await events.waitFor((m) => field(m, "marker") === "after runAgent");
        const started = events.messages.findIndex(
          (m) => field(m, "event") === "started" && m.sender.id === "slow-starter",
        );
        expect(started).toBeGreaterThanOrEqual(0);
        expect(started).toBeLessThan(events.messages.indexOf(marker));
      },
      testTimeoutMs,
    );

    it(
      "stops agents idempotently and lets the id run again",
      async () => {
        const guild = newGuild("stop");
        await expect(engine().stopAgent(guild.id, "never-ran")).resolves.toBeUndefined();
        await expect(
          engine().stopAgent(`contract-no-guild-${randomUUID().slice(0, 8)}`, "never-ran"),
        ).resolves.toBeUndefined();

        const spec = probeSpec("stopper", "EchoAgent");
        await run(guild, spec);
        await Promise.all([
          engine().stopAgent(guild.id, "stopper"),
          engine().stopAgent(guild.id, "stopper"),
        ]);
        await engine().stopAgent(guild.id, "stopper");
        await expectNothingLeft(guild, "stopper");
        expect(await engine().findAgentsByName(guild.id, "stopper")).toEqual([]);

        await run(guild, spec);
        expect(await engine().isAgentRunning(guild.id, "stopper")).toBe(true);
        const app = client(guild);
        await sentinel(app, await record(app, topicOf(guild)), ["stopper"]);
      },
      testTimeoutMs,
    );

    it(
      "runs onStop once, before stopAgent resolves, and lets it publish",
      async () => {
        const guild = newGuild("on-stop");
        const app = client(guild);
        const other = client(guild);
        const events = await record(app, "contract-events");
        await run(
          guild,
          probeSpec("stopper", "EchoAgent", {
            properties: { eventsTopic: "contract-events", stopDelayMs: 200 },
          }),
        );
        await Promise.all([
          engine().stopAgent(guild.id, "stopper"),
          engine().stopAgent(guild.id, "stopper"),
        ]);
        await engine().stopAgent(guild.id, "stopper");

        await other.publish("contract-events", { marker: "after stopAgent" });
        const marker = await events.waitFor((m) => field(m, "marker") === "after stopAgent");
        const before = events.messages.slice(0, events.messages.indexOf(marker));
        expect(
          before.filter((m) => field(m, "event") === "stopped").map((m) => m.sender.id),
          'the agent\'s onStop publishes { event: "stopped" } once, before stopAgent resolves',
        ).toEqual(["stopper"]);
      },
      testTimeoutMs,
    );

    /** Asks a CounterAgent for its state; it answers after every message published before. */
    async function counterState(
      from: GuildClient,
      recorder: MessageRecorder,
      agentId: string,
    ): Promise<{ count: number; starts: number; pid: number }> {
      const since = recorder.messages.length;
      const token = randomUUID();
      await from.publish(recorder.topic, { op: "get", token });
      const answer = await recorder.waitFor(
        (m) => m.sender.id === agentId && field(m, "count") !== undefined,
        { since, description: `the state of "${agentId}"` },
      );
      return answer.payload as { count: number; starts: number; pid: number };
    }

    async function add(from: GuildClient, topic: string, n: number, times = 1): Promise<void> {
      for (let i = 0; i < times; i++) await from.publish(topic, { op: "add", n });
    }

    it(
      "keeps an agent's state across messages, and drops the state change and sends of a handler that throws",
      async () => {
        const guild = newGuild("state");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        await run(guild, probeSpec("counter", "CounterAgent"));
        await add(app, topic, 1);
        await add(app, topic, 2);
        await app.publish(topic, { op: "add-then-throw", n: 100 });
        await add(app, topic, 3);
        const state = await counterState(app, seen, "counter");
        expect(state.count, "1 + 2 + 3: the throwing handler's 100 is dropped").toBe(6);
        expect(state.starts, "initialState ran once, then onStart counted itself").toBe(1);
        const end = await sentinel(app, seen, ["counter"]);
        expect(
          seen.messages.slice(0, end).filter((m) => field(m, "leaked") !== undefined),
          "what a throwing handler sent is never released",
        ).toEqual([]);
      },
      testTimeoutMs,
    );

    it(
      "lists an agent declared lazily as running, and its first message finds it with its state",
      async () => {
        const guild = newGuild("lazy");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        await engine().runAgent(guild, probeSpec("sleeper", "CounterAgent", { name: "Sleeper" }), {
          lazy: true,
        });
        cleanups.push(() => engine().stopAgent(guild.id, "sleeper"));
        expect(await engine().isAgentRunning(guild.id, "sleeper")).toBe(true);
        expect([...(await engine().getAgentsInGuild(guild.id)).keys()]).toEqual(["sleeper"]);
        expect((await engine().findAgentsByName(guild.id, "Sleeper")).map((s) => s.id)).toEqual([
          "sleeper",
        ]);
        await add(app, topic, 2, 3);
        const state = await counterState(app, seen, "sleeper");
        expect(state.count, "every message published after runAgent resolved").toBe(6);
        expect(state.starts, "started once, by its first message").toBe(1);
        await engine().stopAgent(guild.id, "sleeper");
        await expectNothingLeft(guild, "sleeper");
      },
      testTimeoutMs,
    );

    it(
      "brings a crashed agent back with its committed state and every message published meanwhile",
      async () => {
        const guild = newGuild("crash");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        await run(guild, probeSpec("survivor", "CounterAgent"));
        await add(app, topic, 1, 5);
        const before = await counterState(app, seen, "survivor");
        expect(before).toMatchObject({ count: 5, starts: 1 });

        const crash = env().crashAgent ?? defaultCrashFor(engine());
        await crash(guild.id, "survivor", before.pid);
        // Published while the agent is down or restarting: none may be lost, none counted twice.
        await add(app, topic, 1, 5);
        const after = await counterState(app, seen, "survivor");
        expect(after.count, "5 before the crash + 5 while it was down").toBe(10);
        expect(after.starts, "onStart ran again, on the stored state").toBe(2);
        expect(await engine().isAgentRunning(guild.id, "survivor")).toBe(true);
      },
      testTimeoutMs,
    );

    it(
      "moves an agent with its state and every message, or refuses with failed-precondition and leaves it running",
      async () => {
        const guild = newGuild("move");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        const unknown: unknown = await engine()
          .moveAgent(guild.id, "nobody")
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(unknown).toBeInstanceOf(GuildhallError);
        expect((unknown as GuildhallError).code).toBe("not-found");

        await run(guild, probeSpec("traveller", "CounterAgent"));
        await add(app, topic, 1, 5);
        // Published while the move runs: none may be lost, none counted twice.
        const moving = engine()
          .moveAgent(guild.id, "traveller")
          .then(
            (moved) => ({ moved }),
            (error: unknown) => ({ error }),
          );
        await add(app, topic, 1, 5);
        const outcome = await moving;
        if ("moved" in outcome) {
          const { from, to } = outcome.moved;
          expect(typeof from === "string" && typeof to === "string" && from !== to).toBe(true);
          // Moving it to where it runs now is refused, and changes nothing.
          const same: unknown = await engine()
            .moveAgent(guild.id, "traveller", { toHost: to })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(same).toBeInstanceOf(GuildhallError);
          expect((same as GuildhallError).code).toBe("invalid-argument");
        } else {
          expect(outcome.error, "an engine that cannot move refuses").toBeInstanceOf(
            GuildhallError,
          );
          expect((outcome.error as GuildhallError).code).toBe("failed-precondition");
        }
        await add(app, topic, 1, 5);
        const after = await counterState(app, seen, "traveller");
        expect(after.count, "5 before, 5 during and 5 after the move, each counted once").toBe(15);
        expect(after.starts, "onStart ran again on the new host, on the stored state").toBe(
          "moved" in outcome ? 2 : 1,
        );
        expect(await engine().isAgentRunning(guild.id, "traveller")).toBe(true);
      },
      testTimeoutMs,
    );

    it(
      "deletes an agent's state with stopAgent: running its id again starts afresh",
      async () => {
        const guild = newGuild("forget");
        const topic = topicOf(guild);
        const app = client(guild);
        const seen = await record(app, topic);
        const spec = probeSpec("forgetful", "CounterAgent");
        await engine().runAgent(guild, spec);
        await add(app, topic, 7);
        expect((await counterState(app, seen, "forgetful")).count).toBe(7);
        await engine().stopAgent(guild.id, "forgetful");
        await run(guild, spec);
        expect(await counterState(app, seen, "forgetful")).toMatchObject({ count: 0, starts: 1 });
      },
      testTimeoutMs,
    );

    it(
      "lists full specs with getAgentsInGuild and finds agents by name",
      async () => {
        const guild = newGuild("specs");
        const full: AgentSpec = {
          id: "twin-1",
          name: "Twin",
          description: "An echo agent with every field of AgentSpec set",
          className: probeClassName("EchoAgent"),
          properties: { greeting: "hi", nested: { list: [1, "two", null, true] } },
          additionalTopics: ["contract-extra"],
          listenToDefaultTopic: false,
          restartPolicy: { mode: "on-failure", maxRestarts: 3, backoffMs: 250 },
          resources: { memoryMb: 256 },
        };
        const twin = probeSpec("twin-2", "EchoAgent", { name: "Twin" });
        const loner = probeSpec("loner", "EchoAgent", { name: "Loner" });
        for (const spec of [full, twin, loner]) await run(guild, spec);

        const agents = await engine().getAgentsInGuild(guild.id);
        expect(agents).toBeInstanceOf(Map);
        expect([...agents.keys()].sort()).toEqual(["loner", "twin-1", "twin-2"]);
        expect(agents.get("twin-1")).toEqual(full);
        expect(agents.get("twin-2")).toEqual(twin);
        expect(agents.get("loner")).toEqual(loner);

        // What callers get is a copy: changing it changes nothing in the engine.
        agents.get("twin-1")!.name = "Changed";
        expect((await engine().getAgentsInGuild(guild.id)).get("twin-1")?.name).toBe("Twin");

        const twins = await engine().findAgentsByName(guild.id, "Twin");
        expect(twins.sort((a, b) => a.id.localeCompare(b.id))).toEqual([full, twin]);
        expect(await engine().findAgentsByName(guild.id, "Loner")).toEqual([loner]);
        expect(await engine().findAgentsByName(guild.id, "Nobody")).toEqual([]);
        const unknown = `contract-no-guild-${randomUUID().slice(0, 8)}`;
        expect((await engine().getAgentsInGuild(unknown)).size).toBe(0);
        expect(await engine().findAgentsByName(unknown, "Twin")).toEqual([]);
      },
      testTimeoutMs,
    );

    it(
      "keeps guilds apart: agents, names and messages",
      async () => {
        const a = newGuild("guild-a");
        const b = newGuild("guild-b");
        await run(a, probeSpec("echo", "EchoAgent", { name: "Echo A" }));
        await run(b, probeSpec("echo", "EchoAgent", { name: "Echo B" }));

        expect((await engine().getAgentsInGuild(a.id)).get("echo")?.name).toBe("Echo A");
        expect((await engine().getAgentsInGuild(b.id)).get("echo")?.name).toBe("Echo B");
        expect(await engine().findAgentsByName(a.id, "Echo B")).toEqual([]);
        expect(await engine().findAgentsByName(b.id, "Echo A")).toEqual([]);

        const appA = client(a);
        const appB = client(b);
        const seenA = await record(appA, topicOf(a));
        const seenB = await record(appB, topicOf(b));
        await appA.publish(topicOf(a), { text: "for guild A only" });
        const echo = await seenA.waitFor((m) => field(m, "echo") !== undefined, {
          description: "the echo in guild A",
        });
        expect(echo.sender.id).toBe("echo");
        expect(echo.payload).toEqual({ echo: { text: "for guild A only" }, agentId: "echo" });
        const end = await sentinel(appB, seenB, ["echo"]);
        expect(seenB.messages.slice(0, end).filter((m) => !isProbeTraffic(m))).toEqual([]);

        await engine().stopAgent(a.id, "echo");
        expect(await engine().isAgentRunning(a.id, "echo")).toBe(false);
        expect(await engine().isAgentRunning(b.id, "echo")).toBe(true);
        await sentinel(appB, seenB, ["echo"]);
      },
      testTimeoutMs,
    );

    it(
      "delivers the default topic, additional topics and the inbox, never the agent's own messages",
      async () => {
        const guild = newGuild("topics");
        const topic = topicOf(guild);
        await run(
          guild,
          probeSpec("listener", "EchoAgent", { additionalTopics: ["contract-extra"] }),
        );
        await run(guild, probeSpec("inbox-only", "EchoAgent", { listenToDefaultTopic: false }));
        const app = client(guild);
        const onDefault = await record(app, topic);
        const onExtra = await record(app, "contract-extra");
        const echoes = await record(app, "contract-echoes");

        await app.publish(topic, { text: "to everyone" });
        await onDefault.waitFor((m) => m.sender.id === "listener", {
          description: "the echo on the default topic",
        });
        await app.publish("contract-extra", { text: "extra" });
        const extra = await onExtra.waitFor((m) => m.sender.id === "listener", {
          description: "the echo on an additional topic",
        });
        expect(extra.payload).toEqual({ echo: { text: "extra" }, agentId: "listener" });

        for (const agentId of ["listener", "inbox-only"]) {
          const direct = { text: `to ${agentId}`, echoTo: "contract-echoes" };
          await app.publish(inboxTopic(agentId), direct);
          const echo = await echoes.waitFor((m) => m.sender.id === agentId, {
            description: `the echo of a message to the inbox of "${agentId}"`,
          });
          expect(echo.payload).toEqual({ echo: direct, agentId });
        }

        // Had the listener received its own echo, it would have reported it before this pong.
        const end = await sentinel(app, onDefault, ["listener"]);
        const ownDelivered = (m: Message) => field(m, "ownMessageReceived") !== undefined;
        expect(onDefault.messages.slice(0, end).filter(ownDelivered)).toEqual([]);
        const fromListener = onDefault.messages
          .slice(0, end)
          .filter((m) => m.sender.id === "listener" && !isProbeTraffic(m));
        expect(fromListener.map((m) => m.payload)).toEqual([
          { echo: { text: "to everyone" }, agentId: "listener" },
        ]);
        expect(onDefault.messages.some((m) => m.sender.id === "inbox-only")).toBe(false);
      },
      testTimeoutMs,
    );

    it(
      "answers a reply to an inbox message in the sender's inbox, in thread",
      async () => {
        const guild = newGuild("inbox-reply");
        await run(guild, probeSpec("replier", "EchoAgent"));
        const app = client(guild);
        const inbox = await record(app, inboxTopic(app.id));
        const direct = await app.publish(inboxTopic("replier"), { text: "direct" });
        const reply = await inbox.waitFor((m) => m.sender.id === "replier", {
          description: `the reply in the client's inbox "${inboxTopic(app.id)}"`,
        });
        expect(reply.payload).toEqual({ echo: { text: "direct" }, agentId: "replier" });
        expect(reply.inResponseTo).toBe(direct.id);
        expect(reply.threadId).toBe(direct.id);
      },
      testTimeoutMs,
    );

    it(
      "refuses a bad className and leaves nothing behind",
      async () => {
        const guild = newGuild("classname");
        const missingModule = path.join(tmpdir(), `guildhall-no-such-module-${randomUUID()}.js`);
        const cases: [className: string, mentions: string][] = [
          ["not-a-class-name", "className"],
          [`${probeAgentsModule}#NoSuchAgent`, "NoSuchAgent"],
          [`${probeAgentsModule}#NotAnAgent`, "NotAnAgent"],
          [`${missingModule}#SomeAgent`, "guildhall-no-such-module"],
        ];
        for (const [className, mentions] of cases) {
          const error: unknown = await engine()
            .runAgent(guild, { id: "bad-class", name: "Bad", className })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(error, className).toBeInstanceOf(GuildhallError);
          expect(["invalid-argument", "permission-denied"], className).toContain(
            (error as GuildhallError).code,
          );
          expect((error as GuildhallError).message, className).toContain(mentions);
          await expectNothingLeft(guild, "bad-class");
        }
        // Nothing is reserved either: the id runs once given a good className.
        await run(guild, probeSpec("bad-class", "EchoAgent"));
        expect(await engine().isAgentRunning(guild.id, "bad-class")).toBe(true);
      },
      testTimeoutMs,
    );

    it(
      "refuses invalid specs, duplicate ids and failing starts, leaving nothing behind",
      async () => {
        const guild = newGuild("refusals");
        const invalid: unknown = await engine()
          .runAgent(guild, {
            id: "not a valid id!",
            name: "Bad",
            className: probeClassName("EchoAgent"),
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(invalid).toBeInstanceOf(GuildhallError);
        expect((invalid as GuildhallError).code).toBe("invalid-argument");
        expect((await engine().getAgentsInGuild(guild.id)).size).toBe(0);

        const failing = probeSpec("failing", "FailingStartAgent", {
          restartPolicy: { mode: "never" },
        });
        await expect(engine().runAgent(guild, failing)).rejects.toThrow();
        await expectNothingLeft(guild, "failing");
        await run(guild, probeSpec("failing", "EchoAgent"));
        expect(await engine().isAgentRunning(guild.id, "failing")).toBe(true);

        await run(guild, probeSpec("dup", "EchoAgent", { name: "First" }));
        const duplicate: unknown = await engine()
          .runAgent(guild, probeSpec("dup", "EchoAgent", { name: "Second" }))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(duplicate).toBeInstanceOf(GuildhallError);
        expect((duplicate as GuildhallError).code).toBe("already-exists");
        expect((await engine().getAgentsInGuild(guild.id)).get("dup")?.name).toBe("First");
        const app = client(guild);
        await sentinel(app, await record(app, topicOf(guild)), ["dup"]);
      },
      testTimeoutMs,
    );

    describe("shutdown", () => {
      it(
        "shutdown({ stopAgents: true }) stops every agent, running onStop, and refuses work afterwards",
        async () => {
          // Its own engine, since it shuts it down; nothing here goes through the shared cleanups.
          const own = await setup();
          const guild = newGuild("shutdown");
          const app = connectGuildClient(own.bus, { guildId: guild.id, id: "contract-client" });
          try {
            const events = await recordMessages(app, "contract-events", {
              timeoutMs: waitTimeoutMs,
            });
            const properties = { eventsTopic: "contract-events" };
            await own.engine.runAgent(guild, probeSpec("first", "EchoAgent", { properties }));
            await own.engine.runAgent(guild, probeSpec("second", "EchoAgent", { properties }));

            await own.engine.shutdown({ stopAgents: true });
            for (const agentId of ["first", "second"]) {
              await events.waitFor(
                (m) => field(m, "event") === "stopped" && m.sender.id === agentId,
                { description: `the stopped event of "${agentId}"` },
              );
            }
            const after: unknown = await own.engine
              .runAgent(guild, probeSpec("late", "EchoAgent"))
              .then(
                () => undefined,
                (e: unknown) => e,
              );
            expect(after).toBeInstanceOf(GuildhallError);
            expect((after as GuildhallError).code).toBe("unavailable");
            await expect(own.engine.shutdown({ stopAgents: true })).resolves.toBeUndefined();
          } finally {
            await app.close();
            await own.engine.shutdown({ stopAgents: true }).catch(() => undefined);
            await own.teardown?.();
          }
        },
        testTimeoutMs + 2 * setupTimeoutMs,
      );
    });
  });
}
