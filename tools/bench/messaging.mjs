#!/usr/bin/env node
// Messaging benchmark (built packages): RedisBus publish → deliver round trip (p50/p99) and
// messages/s for one topic with 10 subscribers, and an agent-to-agent round trip between two agent
// processes on two agent hosts through Redis, all as ratios to a bare Redis XADD + XREAD doing the
// same job in the same run, on a private redis-server of its own. Round trips are interleaved in
// blocks (bare, bus, bare, bus, …) so that load from elsewhere on the machine hits both alike.
//
//   npx nx run-many -t build && node tools/bench/messaging.mjs [--rounds 2000]
//     [--messages 20000] [--subscribers 10] [--agent-rounds 1000] [--json]
/* global process, console, performance, setImmediate, setTimeout, clearTimeout, URL */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { loadavg } from "node:os";
import { createServer } from "node:net";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { connectGuildClient, createMessage } from "@guildhall/core";
import { RedisBus } from "@guildhall/bus-redis";
import { createAgentHost } from "@guildhall/host-server";
import { AgentHostService } from "@guildhall/proto";
import { RedisLocationRegistry } from "@guildhall/registry";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "2000" },
    messages: { type: "string", default: "20000" },
    subscribers: { type: "string", default: "10" },
    "agent-rounds": { type: "string", default: "1000" },
    json: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(args.rounds);
const MESSAGES = Number(args.messages);
const SUBSCRIBERS = Number(args.subscribers);
const AGENT_ROUNDS = Number(args["agent-rounds"]);
const AGENTS_DIR = fileURLToPath(new URL("./agents/", import.meta.url));
const BLOCK = 100; // round trips per interleaved block
const WINDOW = 256; // publishes in flight during the throughput runs
const GUILD = "bench";
const TOPIC = "bench-topic";
const sender = { id: "bench-publisher", name: "Bench" };
// Streams keep every message of a run: a reader that falls behind a trimmed stream never sees the
// trimmed entries (for the bus too: delivery is at most once within the retained length).
const MAX_LEN = Math.max(10_000, 4 * MESSAGES);

async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    process.env.REDIS_SERVER_BIN ?? "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready:\n${output}`)), 10_000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const median = (values) => quantile(values, 0.5);
const fmtMs = (ms) => `${(ms * 1000).toFixed(0)} µs`;
const fmtRate = (perSecond) => `${Math.round(perSecond).toLocaleString("en-US")} msg/s`;
const settle = () => new Promise((resolve) => setImmediate(resolve));
const message = (payload) => createMessage({ topic: TOPIC, sender, payload });

/** Bare Redis: one writer, one reader blocking in XREAD on the stream's last id. */
class Bare {
  constructor(url) {
    this.writer = new Redis(url);
    this.reader = new Redis(url);
    this.key = "bare:stream";
    this.lastId = "0-0";
  }

  async roundTrip(json) {
    const read = this.reader.xread("BLOCK", 0, "STREAMS", this.key, this.lastId);
    const started = performance.now();
    await this.writer.xadd(this.key, "MAXLEN", "~", MAX_LEN, "*", "m", json);
    const reply = await read;
    const elapsed = performance.now() - started;
    const entries = reply[0][1];
    this.lastId = entries[entries.length - 1][0];
    return elapsed;
  }

  async throughput(jsons) {
    let received = 0;
    const started = performance.now();
    const reading = (async () => {
      while (received < jsons.length) {
        const reply = await this.reader.xread(
          "COUNT",
          1000,
          "BLOCK",
          0,
          "STREAMS",
          this.key,
          this.lastId,
        );
        const entries = reply[0][1];
        received += entries.length;
        this.lastId = entries[entries.length - 1][0];
      }
    })();
    await windowed(jsons, (json) =>
      this.writer.xadd(this.key, "MAXLEN", "~", MAX_LEN, "*", "m", json),
    );
    await reading;
    return jsons.length / ((performance.now() - started) / 1000);
  }

  async close() {
    await Promise.all([this.writer.quit(), this.reader.quit()]);
  }
}

/** RedisBus: a publishing bus and a subscribing bus with SUBSCRIBERS subscriptions on the topic. */
class Bus {
  constructor(url) {
    this.publisher = new RedisBus({ url, prefix: "bench:", maxLenPerTopic: MAX_LEN });
    this.subscriber = new RedisBus({ url, prefix: "bench:", maxLenPerTopic: MAX_LEN });
    this.counts = new Array(SUBSCRIBERS).fill(0);
    this.waiting = undefined;
  }

  async start() {
    for (let i = 0; i < SUBSCRIBERS; i++) {
      await this.subscriber.subscribe(GUILD, TOPIC, () => {
        this.counts[i] += 1;
        if (this.waiting !== undefined && this.counts.every((c) => c >= this.waiting.target)) {
          const { resolve } = this.waiting;
          this.waiting = undefined;
          resolve(performance.now());
        }
      });
    }
  }

  /** Resolves with the time at which every subscription has `target` messages. */
  allReach(target) {
    return new Promise((resolve) => (this.waiting = { target, resolve }));
  }

  async roundTrip(m) {
    const delivered = this.allReach(this.counts[0] + 1);
    const started = performance.now();
    await this.publisher.publish(GUILD, m);
    return (await delivered) - started;
  }

  async throughput(messages) {
    const delivered = this.allReach(this.counts[0] + messages.length);
    const started = performance.now();
    await windowed(messages, (m) => this.publisher.publish(GUILD, m));
    return messages.length / (((await delivered) - started) / 1000);
  }

  async close() {
    await Promise.all([this.publisher.close(), this.subscriber.close()]);
  }
}

/** Runs `send` over `items` with at most WINDOW calls in flight, in order on one connection. */
async function windowed(items, send) {
  const inFlight = new Set();
  for (const item of items) {
    const sent = send(item).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/**
 * Two agent hosts on this machine, each with its own registry and bus connections to the Redis,
 * a Pinger agent on one and a Ponger on the other: the path a message takes between agents of a
 * real cluster, minus the network.
 */
class AgentPair {
  constructor(url) {
    this.url = url;
    this.hosts = [];
    this.backends = [];
  }

  async start() {
    for (let i = 0; i < 2; i++) {
      // The host uses these but does not own them: they are closed after it, in close().
      const registry = new RedisLocationRegistry({ url: this.url, prefix: "bench:" });
      const bus = new RedisBus({ url: this.url, prefix: "bench:" });
      this.backends.push(registry, bus);
      const host = createAgentHost({
        port: 0,
        registry,
        bus,
        agentModules: [AGENTS_DIR],
        metricsPort: false,
        logLevel: "warn",
        warmPoolSize: 0,
      });
      await host.start();
      this.hosts.push(host);
    }
    const className = (name) => `${AGENTS_DIR}ping-pong-agents.mjs#${name}`;
    const place = (host, agent) =>
      createClient(
        AgentHostService,
        createGrpcTransport({ baseUrl: `http://${host.address}` }),
      ).createAgent({ guild: { id: GUILD, name: "Bench" }, agent });
    await place(this.hosts[0], {
      id: "pinger",
      name: "Pinger",
      className: className("Pinger"),
      properties: { peer: "ponger" },
    });
    await place(this.hosts[1], { id: "ponger", name: "Ponger", className: className("Ponger") });
    this.clientBus = new RedisBus({ url: this.url, prefix: "bench:" });
    this.client = connectGuildClient(this.clientBus, { guildId: GUILD, id: "bench" });
    await this.client.subscribe("bench-results", (m) => this.waiting?.(m.payload.samplesMs));
  }

  /** Round trip times (ms) of `rounds` ping/pongs, timed inside the Pinger. */
  run(rounds) {
    const done = new Promise((resolve) => (this.waiting = resolve));
    return this.client.publish("inbox:pinger", { rounds }).then(() => done);
  }

  async close() {
    await this.client?.close();
    await this.clientBus?.close();
    await Promise.allSettled(this.hosts.map((host) => host.close()));
    await Promise.allSettled(this.backends.map((backend) => backend.close()));
  }
}

const redis = await startRedis();
const bare = new Bare(redis.url);
const agents = new AgentPair(redis.url);
const bus = new Bus(redis.url);
const samples = { bare: [], bus: [], bareBesideAgents: [], agents: [] };
const rates = { bare: [], bus: [] };
try {
  await bus.start();
  const m = message({ text: "hello", n: 1 });
  const json = JSON.stringify(m);
  // Unmeasured warm-up: connections, the JIT, Redis's allocator.
  for (let i = 0; i < 200; i++) {
    await bare.roundTrip(json);
    await bus.roundTrip(m);
  }
  // Each round trip starts from a quiet process (setImmediate), as an isolated message would: the
  // bus's reader has re-issued its blocking read, as the bare reader always has.
  for (let done = 0; done < ROUNDS; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      await settle();
      samples.bare.push(await bare.roundTrip(json));
    }
    for (let i = 0; i < BLOCK; i++) {
      await settle();
      samples.bus.push(await bus.roundTrip(m));
    }
  }
  const batch = Array.from({ length: MESSAGES }, (_, i) => message({ text: "hello", n: i }));
  const jsons = batch.map((each) => JSON.stringify(each));
  for (let repeat = 0; repeat < 3; repeat++) {
    rates.bare.push(await bare.throughput(jsons));
    rates.bus.push(await bus.throughput(batch));
  }
  await agents.start();
  await agents.run(100); // warm-up
  for (let done = 0; done < AGENT_ROUNDS; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      await settle();
      samples.bareBesideAgents.push(await bare.roundTrip(json));
    }
    samples.agents.push(...(await agents.run(BLOCK)));
  }
} finally {
  await Promise.allSettled([bare.close(), bus.close(), agents.close()]);
  await redis.stop();
}

const result = {
  loadAverage: loadavg()[0],
  subscribers: SUBSCRIBERS,
  rounds: samples.bus.length,
  messages: MESSAGES,
  roundTripMs: {
    bare: { p50: quantile(samples.bare, 0.5), p99: quantile(samples.bare, 0.99) },
    bus: { p50: quantile(samples.bus, 0.5), p99: quantile(samples.bus, 0.99) },
  },
  messagesPerSecond: { bare: median(rates.bare), bus: median(rates.bus) },
  // An agent round trip is two hops (ping, then pong), each one bare XADD + XREAD at best.
  agentRoundTripMs: {
    rounds: samples.agents.length,
    bareP50: quantile(samples.bareBesideAgents, 0.5),
    bareP99: quantile(samples.bareBesideAgents, 0.99),
    p50: quantile(samples.agents, 0.5),
    p99: quantile(samples.agents, 0.99),
  },
};
result.ratios = {
  roundTripP50: result.roundTripMs.bus.p50 / result.roundTripMs.bare.p50,
  roundTripP99: result.roundTripMs.bus.p99 / result.roundTripMs.bare.p99,
  throughput: result.messagesPerSecond.bus / result.messagesPerSecond.bare,
  agentRoundTripP50: result.agentRoundTripMs.p50 / (2 * result.agentRoundTripMs.bareP50),
  agentRoundTripP99: result.agentRoundTripMs.p99 / (2 * result.agentRoundTripMs.bareP99),
};

if (args.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const { roundTripMs: rt, messagesPerSecond: rate, ratios } = result;
  console.log(
    `RedisBus messaging, one topic, ${SUBSCRIBERS} subscribers (${result.rounds} round trips each, ${MESSAGES} messages × 3 for throughput; load average ${result.loadAverage.toFixed(2)})`,
  );
  console.log(
    `  round trip p50   bare XADD+XREAD ${fmtMs(rt.bare.p50)}   RedisBus ${fmtMs(rt.bus.p50)}   ×${ratios.roundTripP50.toFixed(2)}`,
  );
  console.log(
    `  round trip p99   bare XADD+XREAD ${fmtMs(rt.bare.p99)}   RedisBus ${fmtMs(rt.bus.p99)}   ×${ratios.roundTripP99.toFixed(2)}`,
  );
  console.log(
    `  throughput       bare XADD+XREAD ${fmtRate(rate.bare)}   RedisBus ${fmtRate(rate.bus)} delivered to each subscriber   ×${ratios.throughput.toFixed(2)}`,
  );
  const agentRt = result.agentRoundTripMs;
  console.log(
    `agent to agent through two hosts and Redis (${agentRt.rounds} ping/pong round trips = 2 hops each)`,
  );
  console.log(
    `  round trip p50   2 × bare ${fmtMs(2 * agentRt.bareP50)}   agents ${fmtMs(agentRt.p50)}   ×${ratios.agentRoundTripP50.toFixed(2)}`,
  );
  console.log(
    `  round trip p99   2 × bare ${fmtMs(2 * agentRt.bareP99)}   agents ${fmtMs(agentRt.p99)}   ×${ratios.agentRoundTripP99.toFixed(2)}`,
  );
}
