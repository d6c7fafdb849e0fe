// Durable timers on the in-process engine (DESIGN section 13): `ctx.schedule` and
// `ctx.cancelSchedule` commit with their handler, fire onto the agent's inbox with the payload
// given, survive a crash, and refuse bad input with errors that say what was wrong.
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  GuildhallError,
  InProcessExecutionEngine,
  MAX_TIMERS_PER_AGENT,
  MemoryBus,
  TIMER_MESSAGE_FORMAT,
  TIMER_SENDER_ID,
  connectGuildClient,
  inboxTopic,
} from "../src/index.js";
import type {
  AgentContext,
  AgentLogger,
  AgentSpec,
  GuildSpec,
  JsonValue,
  Message,
  MessageContext,
} from "../src/index.js";

interface Hooks {
  onStart?: (ctx: AgentContext) => unknown;
  onMessage?: (ctx: MessageContext) => unknown;
}

const hooks = ((
  globalThis as { __guildhallCoreFixtureHooks?: Map<string, Hooks> }
).__guildhallCoreFixtureHooks ??= new Map<string, Hooks>());

const fixtures = fileURLToPath(new URL("./fixtures/agents.mjs", import.meta.url));
const quiet: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };

let counter = 0;
function newGuild(): GuildSpec {
  counter += 1;
  return { id: `timers-${counter}`, name: "Timers", agents: [] };
}

function scripted(id: string, script: Hooks): AgentSpec {
  hooks.set(id, script);
  return { id, name: id, className: `${fixtures}#ScriptedAgent` };
}

const engines: InProcessExecutionEngine[] = [];
function setup() {
  const bus = new MemoryBus();
  const engine = new InProcessExecutionEngine({ bus, log: quiet });
  engines.push(engine);
  return { bus, engine };
}

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.shutdown()));
  hooks.clear();
});

/** Records the timer messages an agent receives, and runs `onCommand` for the others. */
function timerAgent(
  id: string,
  onCommand: (ctx: MessageContext) => unknown,
  onStart?: Hooks["onStart"],
) {
  const fired: Message[] = [];
  const spec = scripted(id, {
    ...(onStart !== undefined && { onStart }),
    onMessage: (ctx) => {
      if (ctx.message.format !== TIMER_MESSAGE_FORMAT) return onCommand(ctx);
      fired.push(ctx.message);
      return undefined;
    },
  });
  const payloads = (): JsonValue[] => fired.map((m) => m.payload);
  return { spec, fired, payloads };
}

describe("timers on the in-process engine", () => {
  it("fires a timer set in onMessage onto the agent's inbox, with its payload", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const ids: string[] = [];
    const agent = timerAgent("sleeper", async (ctx) => {
      ids.push((await ctx.schedule(20, { wake: ctx.payload })).id);
    });
    await engine.runAgent(guild, agent.spec);
    await connectGuildClient(bus, { guildId: guild.id, id: "app" }).publish(
      inboxTopic("sleeper"),
      "up",
    );
    await expect.poll(agent.payloads).toEqual([{ wake: "up" }]);
    expect(agent.fired[0]).toMatchObject({
      id: ids[0],
      topic: inboxTopic("sleeper"),
      sender: { id: TIMER_SENDER_ID },
      format: TIMER_MESSAGE_FORMAT,
    });
    expect((await bus.readAgent(guild.id, "sleeper"))?.timers).toEqual([]);
  });

  it("never fires a timer cancelled before it was due, by the same handler or a later one", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    let pending = "";
    const agent = timerAgent("canceller", async (ctx) => {
      if (ctx.payload === "set") {
        const dropped = await ctx.schedule(0, "cancelled in its own handler");
        await ctx.cancelSchedule(dropped.id);
        pending = (await ctx.schedule(1_000, "cancelled later")).id;
      } else {
        await ctx.cancelSchedule(pending);
        await ctx.cancelSchedule(pending); // twice does nothing
        await ctx.schedule(1_000, "witness");
      }
    });
    await engine.runAgent(guild, agent.spec);
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    await app.publish(inboxTopic("canceller"), "set");
    await expect
      .poll(async () => (await bus.readAgent(guild.id, "canceller"))?.timers.length)
      .toBe(1);
    await app.publish(inboxTopic("canceller"), "cancel");
    // The witness was due after the cancelled one: had that fired, it would have come first.
    await expect.poll(agent.payloads, { timeout: 5_000 }).toEqual(["witness"]);
  });

  it("sets no timer for a handler that throws", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const agent = timerAgent("thrower", async (ctx) => {
      await ctx.schedule(0, `from ${JSON.stringify(ctx.payload)}`);
      if (ctx.payload === "throw") throw new Error("this handler fails");
    });
    await engine.runAgent(guild, agent.spec);
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    await app.publish(inboxTopic("thrower"), "throw");
    await app.publish(inboxTopic("thrower"), "succeed");
    await expect.poll(agent.payloads).toEqual(['from "succeed"']);
  });

  it("commits onStart's timers and those set outside handlers, and fires them after a crash", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    let outside: AgentContext | undefined;
    const agent = timerAgent(
      "survivor",
      () => undefined,
      async (ctx) => {
        outside = ctx;
        const stored = await bus.readAgent(guild.id, "survivor");
        if (stored === undefined || stored.commits === 0) await ctx.schedule(300, "from onStart");
      },
    );
    await engine.runAgent(guild, agent.spec);
    await outside!.schedule(300, "from outside a handler");
    expect((await bus.readAgent(guild.id, "survivor"))?.timers.map((t) => t.payload)).toEqual([
      "from onStart",
      "from outside a handler",
    ]);
    // A crash before they are due: the next copy fires them.
    await engine.restartAgent(guild.id, "survivor");
    await expect.poll(agent.payloads).toEqual(["from onStart", "from outside a handler"]);
  });

  it("deletes an agent's timers when it is stopped", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const agent = timerAgent(
      "stopped",
      () => undefined,
      (ctx) => ctx.schedule(60_000, "never"),
    );
    await engine.runAgent(guild, agent.spec);
    const [before] = (await bus.readAgent(guild.id, "stopped"))!.timers;
    await engine.stopAgent(guild.id, "stopped");
    expect(await bus.readAgent(guild.id, "stopped")).toBeUndefined();
    await engine.runAgent(guild, agent.spec);
    const after = (await bus.readAgent(guild.id, "stopped"))!.timers;
    expect(after, "only what the new onStart set").toHaveLength(1);
    expect(after[0]?.id).not.toBe(before?.id);
  });

  it("refuses bad delays and payloads, and timers past the limit, naming what was wrong", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const refusals: GuildhallError[] = [];
    const refused = async (attempt: () => Promise<unknown>): Promise<void> => {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GuildhallError);
      refusals.push(error as GuildhallError);
    };
    const done: string[] = [];
    const agent = timerAgent("strict", async (ctx) => {
      // What untyped callers may pass.
      const schedule = (delayMs: unknown, payload: unknown) =>
        ctx.schedule(delayMs as number, payload as JsonValue);
      if (ctx.payload === "bad input") {
        await refused(() => schedule(-1, "x"));
        await refused(() => schedule(1.5, "x"));
        await refused(() => schedule(367 * 24 * 60 * 60 * 1000, "x"));
        await refused(() => schedule("10", "x"));
        await refused(() => schedule(10, () => "a function"));
        await refused(() => schedule(10, { big: 10n }));
        await refused(() => schedule(10, undefined));
        await refused(() => schedule(10, "x".repeat(1_100_000)));
        await refused(() => ctx.cancelSchedule(42 as unknown as string));
      } else if (ctx.payload === "fill") {
        for (let i = 0; i < MAX_TIMERS_PER_AGENT; i++) await ctx.schedule(3_600_000, i);
        await refused(() => ctx.schedule(3_600_000, "one too many"));
      } else {
        await refused(() => ctx.schedule(3_600_000, "one too many, later"));
        const first = (await bus.readAgent(guild.id, "strict"))!.timers[0]!;
        await ctx.cancelSchedule(first.id);
        await ctx.schedule(3_600_000, "room again");
      }
      done.push(JSON.stringify(ctx.payload));
    });
    await engine.runAgent(guild, agent.spec);
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    for (const command of ["bad input", "fill", "full"]) {
      await app.publish(inboxTopic("strict"), command);
    }
    await expect.poll(() => done).toEqual(['"bad input"', '"fill"', '"full"']);
    const messages = refusals.map((e) => `${e.code}: ${e.message}`);
    expect(messages.slice(0, 4)).toEqual(
      Array.from({ length: 4 }, (): unknown =>
        expect.stringMatching(
          /^invalid-argument: agent "strict" scheduled a timer with delay .*: the delay must be a whole number of milliseconds from 0 to 31622400000 \(366 days\)$/,
        ),
      ),
    );
    expect(messages[4]).toMatch(
      /invalid-argument: .*payload is a function, which JSON cannot hold/,
    );
    expect(messages[5]).toMatch(
      /invalid-argument: .*payload\.big is a bigint, which JSON cannot hold/,
    );
    expect(messages[6]).toMatch(/invalid-argument: .*payload is undefined, which JSON cannot hold/);
    expect(messages[7]).toMatch(/invalid-argument: .*over the bus limit of 1048576 bytes/);
    expect(messages[8]).toMatch(/invalid-argument: .*a timer id is the non-empty string/);
    expect(messages[9]).toMatch(
      /^resource-exhausted: agent "strict" would have 1001 pending timers, over the limit of 1000 per agent/,
    );
    expect(messages[10]).toMatch(/^resource-exhausted: .*1001 pending timers/);
    expect(messages).toHaveLength(11);
    const stored = (await bus.readAgent(guild.id, "strict"))!.timers;
    expect(stored).toHaveLength(MAX_TIMERS_PER_AGENT);
    expect(stored.at(-1)?.payload).toBe("room again");
  });
});
