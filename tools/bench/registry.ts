// Benchmarks @guildhall/registry against a private redis-server (README.md here says how to run
// it). Lookups are measured as a ratio to a bare GET round trip in the same run, so the figures
// hold on any machine; heartbeats are counted in round trips (commands the client sent, and
// script calls the server ran) and timed, for hosts of growing size. `compareLookups` is also
// the lookup figure of the full benchmark (run.ts).
//
//   npx tsc -p tools/bench && node tools/bench/dist/bench/registry.js   # BENCH_LOOKUPS=20000
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { RedisLocationRegistry } from "@guildhall/registry";
import { startRedisServer } from "@guildhall/testing";
import { isMain } from "./paths.js";
import { quantile } from "./stats.js";

const BLOCK = 500;
const HEARTBEAT_SIZES = [100, 1_000, 10_000];
const HEARTBEAT_RUNS = 7;

/** Counts the commands each ioredis client sends, by patching the one send path they share. */
const sent = new Map<Redis, number>();
function countSentCommands(): void {
  // Called with the client as `this` below, as ioredis calls it.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const sendCommand = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis["sendCommand"]>) {
    sent.set(this, (sent.get(this) ?? 0) + 1);
    return sendCommand.apply(this, args);
  };
}

/** Commands sent by every client but the bench's own (so: by the registry's client). */
function sentByRegistry(own: readonly Redis[]): number {
  let total = 0;
  for (const [client, count] of sent) if (!own.includes(client)) total += count;
  return total;
}

function micros(ns: number): string {
  return `${(ns / 1_000).toFixed(1)} µs`;
}

async function commandStats(admin: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await admin.info("commandstats");
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1] ?? "", { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Lookup functions to compare with a bare GET; each is given the index of the call. */
export type Lookups = Record<string, (index: number) => Promise<unknown>>;

/**
 * Times `count` sequential calls of a bare `GET` of `key` and of each lookup, in interleaved
 * blocks of 500 (GET, each lookup, GET, …) after `warmup` unmeasured calls of each, so that drift
 * and load from elsewhere hit all of them alike. Resolves with the samples in milliseconds, the
 * GET's under `"get"`.
 */
export async function compareLookups(
  bare: Redis,
  key: string,
  lookups: Lookups,
  count: number,
  warmup = 2_000,
): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = { get: [] };
  const timers: [string, (index: number) => Promise<unknown>][] = [
    ["get", () => bare.get(key)],
    ...Object.entries(lookups),
  ];
  for (const [name] of timers) samples[name] = [];
  for (let done = -warmup; done < count; done += BLOCK) {
    for (const [name, call] of timers) {
      const into = samples[name] ?? [];
      for (let i = 0; i < BLOCK; i++) {
        const start = performance.now();
        await call(done + warmup + i);
        if (done >= 0) into.push(performance.now() - start);
      }
    }
  }
  return samples;
}

async function main(): Promise<void> {
  countSentCommands();
  const LOOKUPS = Number(process.env["BENCH_LOOKUPS"] ?? 20_000);
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const bare = new Redis(server.url);
  const registry = new RedisLocationRegistry({ url: server.url, prefix: "bench:" });
  try {
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info("server"))?.[1] ?? "?";
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
    console.log(
      `redis-server ${redisVersion} on ${server.url}, node ${process.version}, load average ${load}\n`,
    );

    // Lookups against a bare GET, interleaved block by block so drift hits both alike.
    await registry.registerHost({ address: "10.0.0.1:50051", maxAgents: 1_000 });
    for (let i = 0; i < 1_000; i++) {
      await registry.registerAgent({
        guildId: "bench",
        spec: { id: `agent-${i}`, name: `Agent ${i}`, className: "@bench/agents#Echo" },
        hostAddress: "10.0.0.1:50051",
      });
    }
    await bare.set("bench:plain", "10.0.0.1:50051");
    const lookupStatsBefore = await commandStats(admin);
    const samples = await compareLookups(
      bare,
      "bench:plain",
      {
        lookup: (i) => registry.getLocation("bench", `agent-${i % 1_000}`),
      },
      LOOKUPS,
    );
    const lookupStatsAfter = await commandStats(admin);
    const serverUs = (name: string) => {
      const after = lookupStatsAfter.get(name);
      const before = lookupStatsBefore.get(name);
      const calls = (after?.calls ?? 0) - (before?.calls ?? 0);
      return ((after?.usec ?? 0) - (before?.usec ?? 0)) / Math.max(1, calls);
    };
    const getNs = (samples["get"] ?? []).map((ms) => ms * 1e6);
    const lookupNs = (samples["lookup"] ?? []).map((ms) => ms * 1e6);
    const [getP50, getP99] = [quantile(getNs, 0.5), quantile(getNs, 0.99)];
    const [lookupP50, lookupP99] = [quantile(lookupNs, 0.5), quantile(lookupNs, 0.99)];
    console.log(`lookup (getLocation, one HMGET), ${LOOKUPS} sequential calls each`);
    console.log(`  bare GET     p50 ${micros(getP50)}  p99 ${micros(getP99)}`);
    console.log(`  getLocation  p50 ${micros(lookupP50)}  p99 ${micros(lookupP99)}`);
    console.log(
      `  ratio        p50 ${(lookupP50 / getP50).toFixed(2)}×  p99 ${(lookupP99 / getP99).toFixed(2)}×` +
        "  (target: p50 within 1.5×)",
    );
    console.log(
      `  server time per call: GET ${serverUs("get").toFixed(2)} µs, lookup ` +
        `${serverUs("hmget").toFixed(2)} µs\n`,
    );

    // Heartbeats of hosts of growing size.
    console.log(`heartbeat of one host, median of ${HEARTBEAT_RUNS} runs`);
    console.log("  agents   round trips (client / server)   wall time   script time (server)");
    for (const size of HEARTBEAT_SIZES) {
      const address = `10.0.1.${size}:50051`;
      await registry.registerHost({ address, maxAgents: size });
      for (let i = 0; i < size; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, size - i) }, (_, j) =>
            registry.registerAgent({
              guildId: `guild-${(i + j) % 10}`,
              spec: { id: `h${size}-${i + j}`, name: "Worker", className: "@bench/agents#Echo" },
              hostAddress: address,
            }),
          ),
        );
      }
      await registry.heartbeat(address);

      const wallMs: number[] = [];
      const scriptUs: number[] = [];
      const clientTrips: number[] = [];
      const serverTrips: number[] = [];
      for (let run = 0; run < HEARTBEAT_RUNS; run++) {
        const before = await commandStats(admin);
        const sentBefore = sentByRegistry([admin, bare]);
        const start = performance.now();
        const beat = await registry.heartbeat(address);
        wallMs.push(performance.now() - start);
        if (beat.status !== "ok" || beat.renewed !== size) {
          throw new Error(`heartbeat renewed ${JSON.stringify(beat)} instead of ${size} agents`);
        }
        clientTrips.push(sentByRegistry([admin, bare]) - sentBefore);
        const after = await commandStats(admin);
        let calls = 0;
        let usec = 0;
        for (const name of ["evalsha", "eval"]) {
          calls += (after.get(name)?.calls ?? 0) - (before.get(name)?.calls ?? 0);
          usec += (after.get(name)?.usec ?? 0) - (before.get(name)?.usec ?? 0);
        }
        serverTrips.push(calls);
        scriptUs.push(usec);
      }
      const median = (values: number[]) => quantile(values, 0.5);
      const trips = `${Math.max(...clientTrips)} / ${Math.max(...serverTrips)}`;
      console.log(
        `  ${String(size).padStart(6)}   ${trips.padEnd(30)}  ${median(wallMs).toFixed(2).padStart(6)} ms   ${(median(scriptUs) / 1_000).toFixed(2).padStart(6)} ms`,
      );
    }
  } finally {
    await registry.close();
    admin.disconnect();
    bare.disconnect();
    await server.stop();
  }
}

if (isMain(import.meta.url)) {
  // A closed pipe (`| head`) must not kill the run before it stops its redis-server.
  process.stdout.on("error", () => {});
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
