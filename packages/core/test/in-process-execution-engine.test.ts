// InProcessExecutionEngine beyond the shared contract: how it loads classes, orders onStart and
// messages, stops, times out and shuts down. Agents are scripted per test through hooks.
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  GuildhallError,
  InProcessExecutionEngine,
  MemoryBus,
  connectGuildClient,
  inboxTopic,
} from "../src/index.js";
import type {
  AgentContext,
  AgentLogger,
  AgentSpec,
  GuildSpec,
  Message,
  MessageContext,
} from "../src/index.js";

interface Hooks {
  onStart?: (ctx: AgentContext) => unknown;
  onMessage?: (ctx: MessageContext) => unknown;
  onStop?: () => unknown;
}

const hooks = ((
  globalThis as { __guildhallCoreFixtureHooks?: Map<string, Hooks> }
).__guildhallCoreFixtureHooks ??= new Map<string, Hooks>());

const fixtures = fileURLToPath(new URL("./fixtures/agents.mjs", import.meta.url));
const className = (name: string) => `${fixtures}#${name}`;

let counter = 0;
function newGuild(extra: Partial<GuildSpec> = {}): GuildSpec {
  counter += 1;
  return { id: `guild-${counter}`, name: "Test guild", agents: [], ...extra };
}

function scripted(id: string, script: Hooks, extra: Partial<AgentSpec> = {}): AgentSpec {
  hooks.set(id, script);
  return { id, name: id, className: className("ScriptedAgent"), ...extra };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Things that happened, in order, and a way to wait for one. */
function timeline() {
  const events: string[] = [];
  const waiters: { event: string; resolve: () => void }[] = [];
  return {
    events,
    add(event: string) {
      events.push(event);
      for (const w of waiters.filter((w) => w.event === event)) w.resolve();
    },
    reached(event: string): Promise<void> {
      if (events.includes(event)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ event, resolve }));
    },
  };
}

function capturingLog() {
  const entries: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const entry =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      entries.push({ level, msg, fields });
  const log: AgentLogger = {
    debug: entry("debug"),
    info: entry("info"),
    warn: entry("warn"),
    error: entry("error"),
  };
  return { entries, log };
}

async function refusal(promise: Promise<unknown>): Promise<GuildhallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuildhallError);
  return error as GuildhallError;
}

const engines: InProcessExecutionEngine[] = [];
function setup(options: { agentModules?: string[]; log?: AgentLogger } = {}) {
  const bus = new MemoryBus();
  const { log } = capturingLog();
  const engine = new InProcessExecutionEngine({ bus, log, ...options });
  engines.push(engine);
  return { bus, engine };
}

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.shutdown()));
  hooks.clear();
});

describe("InProcessExecutionEngine", () => {
  it("loads agents by absolute path or file URL and gives them their spec", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const started: AgentContext[] = [];
    const byPath = scripted(
      "by-path",
      { onStart: (ctx) => started.push(ctx) },
      {
        properties: { depth: 3 },
      },
    );
    const byUrl = {
      id: "by-url",
      name: "By URL",
      className: `${pathToFileURL(fixtures).href}#MinimalAgent`,
    };
    await engine.runAgent(guild, byPath);
    await engine.runAgent(guild, byUrl);
    expect(await engine.isAgentRunning(guild.id, "by-path")).toBe(true);
    expect(await engine.isAgentRunning(guild.id, "by-url")).toBe(true);
    expect(started.map((ctx) => [ctx.agentId, ctx.guildId])).toEqual([["by-path", guild.id]]);
    expect(await engine.getAgentsInGuild(guild.id)).toEqual(
      new Map([
        ["by-path", byPath],
        ["by-url", byUrl],
      ]),
    );
  });

  it("holds onStart's sends until it resolved, then delivers the answers", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    const steps = timeline();
    const release = deferred();
    await app.subscribe("questions", async (m) => {
      if (m.sender.id === "other") {
        steps.add("sentinel");
        return;
      }
      await app.publish(inboxTopic(m.sender.id), { answer: 42 }, { inResponseTo: m.id });
      steps.add("answered");
    });
    const spec = scripted("asker", {
      onStart: async (ctx) => {
        await ctx.publish("questions", { question: "?" });
        steps.add("sent");
        await release.promise;
        steps.add("started");
      },
      onMessage: (ctx) => steps.add(`got ${JSON.stringify(ctx.payload)}`),
    });
    const running = engine.runAgent(guild, spec);
    await steps.reached("sent");
    // Had the question gone out already, it would reach the app before this.
    const other = connectGuildClient(bus, { guildId: guild.id, id: "other" });
    await other.publish("questions", "sentinel");
    await steps.reached("sentinel");
    expect(await engine.isAgentRunning(guild.id, "asker")).toBe(false);
    release.resolve();
    await running;
    await steps.reached('got {"answer":42}');
    expect(steps.events).toEqual(["sent", "sentinel", "started", "answered", 'got {"answer":42}']);
  });

  it("handles one message at a time across all of an agent's topics", async () => {
    const { bus, engine } = setup();
    const guild = newGuild({ defaultTopic: "main" });
    const steps = timeline();
    const release = deferred();
    await engine.runAgent(
      guild,
      scripted(
        "serial",
        {
          onMessage: async (ctx) => {
            steps.add(`begin ${ctx.message.topic}`);
            if (ctx.message.topic === "a") await release.promise;
            steps.add(`end ${ctx.message.topic}`);
          },
        },
        { additionalTopics: ["a", "b", "a", "main"] },
      ),
    );
    expect(bus.subscriptionCount(guild.id)).toBe(4); // main, a, b, inbox: no duplicates
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    await app.publish("a", 1);
    await app.publish("b", 2);
    await app.publish("main", 3);
    await steps.reached("begin a");
    release.resolve();
    await steps.reached("end main");
    expect(steps.events).toEqual([
      "begin a",
      "end a",
      "begin b",
      "end b",
      "begin main",
      "end main",
    ]);
  });

  it("logs an onMessage that throws, with its ids, and goes on", async () => {
    const { entries, log } = capturingLog();
    const { bus, engine } = setup({ log });
    const guild = newGuild();
    const handled: unknown[] = [];
    const done = deferred();
    await engine.runAgent(
      guild,
      scripted("fragile", {
        onMessage: (ctx) => {
          handled.push(ctx.payload);
          if (ctx.payload === "boom") throw new Error("cannot handle boom");
          if (ctx.payload === "last") done.resolve();
        },
      }),
    );
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    const boom = await app.publish("default_topic", "boom");
    await app.publish("default_topic", "fine");
    await app.publish("default_topic", "last");
    await done.promise;
    expect(handled).toEqual(["boom", "fine", "last"]);
    expect(entries.filter((e) => e.level === "error")).toEqual([
      {
        level: "error",
        msg: "onMessage threw; its state change and sends are dropped, and the agent goes on with the next message",
        fields: {
          guildId: guild.id,
          agentId: "fragile",
          messageId: boom.id,
          topic: "default_topic",
          error: "cannot handle boom",
        },
      },
    ]);
  });

  it("sends to the default topic, replies in thread, and answers an inbox in the sender's inbox", async () => {
    const { bus, engine } = setup();
    const guild = newGuild({ defaultTopic: "main" });
    await engine.runAgent(
      guild,
      scripted(
        "talker",
        {
          onMessage: async (ctx) => {
            if (ctx.payload === "send") await ctx.send({ sent: true }, { format: "custom" });
            if (ctx.payload === "reply") await ctx.reply({ replied: true });
            if (ctx.payload === "elsewhere") await ctx.reply({ moved: true }, { topic: "side" });
          },
        },
        { name: "Talker" },
      ),
    );
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    const received: Message[] = [];
    const arrived = timeline();
    for (const topic of ["main", "side", inboxTopic("app")]) {
      await app.subscribe(topic, (m) => {
        received.push(m);
        arrived.add(m.topic);
      });
    }
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const send = await app.publish("main", "send", { traceparent });
    await arrived.reached("main");
    const reply = await app.publish("main", "reply", { threadId: "thread-1" });
    await app.publish("main", "elsewhere");
    await arrived.reached("side");
    const direct = await app.publish(inboxTopic("talker"), "reply");
    await arrived.reached(inboxTopic("app"));

    const find = (key: string) =>
      received.find((m) => typeof m.payload === "object" && m.payload !== null && key in m.payload);
    const [sent, replied, moved] = [find("sent"), find("replied"), find("moved")];
    const inboxReply = received.find((m) => m.topic === inboxTopic("app"));
    expect(sent).toMatchObject({
      topic: "main",
      sender: { id: "talker", name: "Talker" },
      format: "custom",
      payload: { sent: true },
      traceparent,
    });
    expect(sent?.inResponseTo).toBeUndefined();
    expect(sent?.id).not.toBe(send.id);
    expect(replied).toMatchObject({
      topic: "main",
      format: "json",
      inResponseTo: reply.id,
      threadId: "thread-1",
    });
    expect(moved).toMatchObject({ topic: "side", payload: { moved: true } });
    expect(inboxReply).toMatchObject({
      topic: inboxTopic("app"),
      inResponseTo: direct.id,
      threadId: direct.id,
    });
  });

  it.each([
    [
      "ThrowingConstructorAgent",
      "failed-precondition",
      /the constructor of .* threw: this constructor always throws/,
    ],
    [
      "NoSuchExport",
      "invalid-argument",
      /has no export "NoSuchExport" .*its Agent exports are: MinimalAgent, ScriptedAgent, ThrowingConstructorAgent/,
    ],
    [
      "NotAnAgent",
      "invalid-argument",
      /export "NotAnAgent" of module .* is not a class extending Agent/,
    ],
    ["notAClass", "invalid-argument", /export "notAClass" .* is not a class extending Agent/],
  ])("refuses %s and leaves nothing behind", async (exportName, code, message) => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const error = await refusal(
      engine.runAgent(guild, { id: "bad", name: "Bad", className: className(exportName) }),
    );
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(await engine.isAgentRunning(guild.id, "bad")).toBe(false);
    expect(bus.subscriptionCount()).toBe(0);
  });

  it("refuses modules that cannot be loaded or are not allowed", async () => {
    const { bus, engine } = setup({ agentModules: [fixtures] });
    const guild = newGuild();
    const missing = `${fixtures.replace(/agents\.mjs$/, "missing.mjs")}#Agent`;
    const notAllowed = await refusal(
      engine.runAgent(guild, { id: "x", name: "x", className: missing }),
    );
    expect(notAllowed.code).toBe("permission-denied");

    const open = setup();
    const notFound = await refusal(
      open.engine.runAgent(guild, { id: "x", name: "x", className: missing }),
    );
    expect(notFound.code).toBe("invalid-argument");
    expect(notFound.message).toMatch(/^cannot find module ".*missing\.mjs" of className/);
    expect(notFound.message).toMatch(
      /Check the path or package name, and that it is installed and built$/,
    );

    const base = await refusal(
      open.engine.runAgent(guild, { id: "x", name: "x", className: "@guildhall/core#Agent" }),
    );
    expect(base.message).toMatch(
      /export "Agent" of module "@guildhall\/core" is not a class extending Agent/,
    );
    expect(bus.subscriptionCount() + open.bus.subscriptionCount()).toBe(0);
  });

  it("refuses invalid specs, naming the field", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const badAgent = await refusal(
      engine.runAgent(guild, { id: "ok", name: "", className: className("MinimalAgent") }),
    );
    expect(badAgent.code).toBe("invalid-argument");
    expect(badAgent.message).toContain("name: must not be empty");
    const badGuild = await refusal(
      engine.runAgent(
        { ...guild, id: "bad guild" },
        { id: "ok", name: "ok", className: className("MinimalAgent") },
      ),
    );
    expect(badGuild.message).toMatch(/^invalid guild spec .*\n {2}id: must match/);
  });

  it("keeps the code of a GuildhallError thrown by onStart, and says the agent failed to start", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const plain = await refusal(
      engine.runAgent(
        guild,
        scripted("plain", { onStart: () => Promise.reject(new Error("no config")) }),
      ),
    );
    expect(plain.code).toBe("failed-precondition");
    expect(plain.message).toMatch(
      /^agent "plain" failed to start: onStart of .*#ScriptedAgent threw: no config$/,
    );
    const coded = await refusal(
      engine.runAgent(
        guild,
        scripted("coded", {
          onStart: () => {
            throw new GuildhallError("invalid-argument", "property apiKey is missing");
          },
        }),
      ),
    );
    expect(coded.code).toBe("invalid-argument");
    expect(coded.message).toContain("property apiKey is missing");
    expect(bus.subscriptionCount()).toBe(0);
    expect((await engine.getAgentsInGuild(guild.id)).size).toBe(0);
  });

  it("gives up on an onStart past the timeout or on abort, and stops the agent once onStart ends", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const steps = timeline();
    const release = deferred();
    const slow = (id: string) =>
      scripted(id, {
        onStart: async () => {
          steps.add(`${id} starting`);
          await release.promise;
        },
        onStop: () => steps.add(`${id} stopped`),
      });
    const late = await refusal(engine.runAgent(guild, slow("late"), { timeoutMs: 20 }));
    expect(late.code).toBe("deadline-exceeded");
    expect(late.message).toMatch(/did not become ready in time/);

    const controller = new AbortController();
    const aborting = engine.runAgent(guild, slow("aborted"), { signal: controller.signal });
    await steps.reached("aborted starting");
    controller.abort();
    expect((await refusal(aborting)).code).toBe("aborted");
    expect(bus.subscriptionCount()).toBe(0);
    expect((await engine.getAgentsInGuild(guild.id)).size).toBe(0);

    release.resolve();
    await steps.reached("late stopped");
    await steps.reached("aborted stopped");
  });

  it("stops after the message in progress and onStop; a stopped agent cannot publish", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const steps = timeline();
    const release = deferred();
    let context: AgentContext | undefined;
    await engine.runAgent(
      guild,
      scripted("worker", {
        onStart: (ctx) => void (context = ctx),
        onMessage: async () => {
          steps.add("working");
          await release.promise;
          steps.add("worked");
        },
        onStop: async () => {
          await context?.publish("events", "goodbye");
          steps.add("onStop");
        },
      }),
    );
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    const goodbye = deferred<Message>();
    await app.subscribe("events", (m) => goodbye.resolve(m));
    await app.publish("default_topic", "job");
    await steps.reached("working");
    const stopping = engine.stopAgent(guild.id, "worker");
    const again = engine.stopAgent(guild.id, "worker");
    expect(await engine.isAgentRunning(guild.id, "worker")).toBe(false);
    expect(steps.events).toEqual(["working"]);
    release.resolve();
    await Promise.all([stopping, again]);
    expect(steps.events).toEqual(["working", "worked", "onStop"]);
    expect((await goodbye.promise).payload).toBe("goodbye");
    expect(bus.subscriptionCount(guild.id)).toBe(1); // only the app's
    expect((await refusal(context!.send("too late"))).message).toMatch(
      /is stopped and can no longer publish/,
    );
  });

  it("stops an agent asked to stop while it starts, once it started", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const steps = timeline();
    const release = deferred();
    const running = engine.runAgent(
      guild,
      scripted("starting", {
        onStart: async () => {
          steps.add("onStart");
          await release.promise;
        },
        onStop: () => steps.add("onStop"),
      }),
    );
    await steps.reached("onStart");
    const stopping = engine.stopAgent(guild.id, "starting");
    release.resolve();
    await running;
    await stopping;
    expect(steps.events).toEqual(["onStart", "onStop"]);
    expect(await engine.isAgentRunning(guild.id, "starting")).toBe(false);
  });

  it("refuses a second runAgent of an id that is starting or running", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const spec = { id: "once", name: "Once", className: className("MinimalAgent") };
    const results = await Promise.allSettled([
      engine.runAgent(guild, spec),
      engine.runAgent(guild, spec),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.reason).toMatchObject({
      code: "already-exists",
      message: `agent "once" is already running in guild "${guild.id}"; stop it first, or give the new agent another id`,
    });
    // The same id in another guild is another agent.
    await engine.runAgent(newGuild(), spec);
  });

  it("refuses to move an agent, having no other host, and leaves it running", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const spec = { id: "settled", name: "Settled", className: className("MinimalAgent") };
    expect((await refusal(engine.moveAgent(guild.id, "settled"))).code).toBe("not-found");
    expect((await refusal(engine.moveAgent(guild.id, "not an id!"))).code).toBe("invalid-argument");
    await engine.runAgent(guild, spec);
    const refused = await refusal(engine.moveAgent(guild.id, "settled", { toHost: "elsewhere" }));
    expect(refused.code).toBe("failed-precondition");
    expect(refused.message).toContain("no other host");
    expect(await engine.isAgentRunning(guild.id, "settled")).toBe(true);
  });

  it("runs an id again once its previous run stopped, even if stopping is still under way", async () => {
    const { engine } = setup();
    const guild = newGuild();
    const release = deferred();
    const spec = scripted("phoenix", { onStop: () => release.promise });
    await engine.runAgent(guild, spec);
    const stopping = engine.stopAgent(guild.id, "phoenix");
    const rerun = engine.runAgent(guild, spec);
    hooks.set("phoenix", {});
    release.resolve();
    await Promise.all([stopping, rerun]);
    expect(await engine.isAgentRunning(guild.id, "phoenix")).toBe(true);
  });

  it("stops every agent on shutdown, a start in flight too, and refuses work afterwards", async () => {
    const { bus, engine } = setup();
    const guild = newGuild();
    const steps = timeline();
    const release = deferred();
    await engine.runAgent(
      guild,
      scripted("running", { onStop: () => steps.add("running stopped") }),
    );
    const starting = engine.runAgent(
      guild,
      scripted("starting", {
        onStart: async () => {
          steps.add("starting");
          await release.promise;
        },
        onStop: () => steps.add("starting stopped"),
      }),
    );
    await steps.reached("starting");
    const shutdown = engine.shutdown({ stopAgents: false });
    release.resolve();
    await shutdown;
    expect((await refusal(starting)).code).toBe("unavailable");
    expect(steps.events.sort()).toEqual(["running stopped", "starting", "starting stopped"]);
    expect(bus.subscriptionCount()).toBe(0);
    for (const call of [
      engine.runAgent(guild, { id: "x", name: "x", className: className("MinimalAgent") }),
      engine.stopAgent(guild.id, "running"),
      engine.isAgentRunning(guild.id, "running"),
      engine.getAgentsInGuild(guild.id),
      engine.findAgentsByName(guild.id, "running"),
    ]) {
      expect((await refusal(call)).code).toBe("unavailable");
    }
    await engine.shutdown();
  });

  it("needs a bus", () => {
    expect(
      () =>
        new InProcessExecutionEngine(
          {} as unknown as ConstructorParameters<typeof InProcessExecutionEngine>[0],
        ),
    ).toThrow(
      /needs a bus that keeps agents durable \(a MemoryBus or a RedisBus\): new InProcessExecutionEngine\(\{ bus: new MemoryBus\(\) \}\)/,
    );
  });
});
