// One side of direct-agents.ts: an agent process on the bus itself, which DESIGN §6 rules out
// (agent processes hold no Redis credentials). It claims its agent, reads its inbox with a
// RedisBus and commits each handling (its position and its send) with the bus's durable store, as
// a host commits for its agent process, but with no host in between.
//
//   fork(direct-agent-child.mjs, ["pinger" | "ponger", redisUrl, prefix, guildId])
//
// The Ponger answers each ping. The Pinger, told `{ rounds }` over IPC, pings that many times, the
// next ping committed with the handling of each pong, and answers `{ samplesMs }`: the round
// trips it timed. Each tells its parent `{ ready: true }` once it reads its inbox.
/* global process, console, performance */
import { RedisBus } from "@guildhall/bus-redis";
import { createMessage, validateParsedMessage } from "@guildhall/core";

const [role, url, prefix, guildId] = process.argv.slice(2);
if ((role !== "pinger" && role !== "ponger") || !url || !prefix || !guildId) {
  console.error("usage: direct-agent-child.mjs <pinger|ponger> <redis-url> <prefix> <guild-id>");
  process.exit(2);
}
const peer = role === "pinger" ? "ponger" : "pinger";
const EPOCH = 1;

const bus = new RedisBus({ url, prefix });
const stop = () => void bus.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("disconnect", stop);

let { commits: sequence } = await bus.claimAgent(guildId, role, {
  epoch: EPOCH,
  topics: [`inbox:${role}`],
});

/** Commits the handling at `position` (none for the first ping) with one send to the peer. */
function commit(position, payload) {
  // Checked as a host checks an agent's send, so the commit finds it checked already.
  const messages =
    payload === undefined
      ? []
      : [
          validateParsedMessage(
            createMessage({ topic: `inbox:${peer}`, sender: { id: role, name: role }, payload }),
          ),
        ];
  sequence += 1;
  return bus.commitAgent(guildId, role, {
    epoch: EPOCH,
    sequence,
    ...(position !== undefined && { position }),
    messages,
  });
}

let rounds = 0;
let samples = [];
let sentAt = 0;

await bus.subscribe(guildId, `inbox:${role}`, async (message, position) => {
  const handled = { topic: message.topic, position };
  if (role === "ponger") {
    await commit(handled, { pong: message.payload.ping });
    return;
  }
  samples.push(performance.now() - sentAt);
  if (samples.length < rounds) {
    sentAt = performance.now();
    await commit(handled, { ping: samples.length });
    return;
  }
  await commit(handled, undefined);
  process.send({ samplesMs: samples });
});

process.on("message", (request) => {
  rounds = request.rounds;
  samples = [];
  sentAt = performance.now();
  void commit(undefined, { ping: 0 });
});
process.send({ ready: true });
