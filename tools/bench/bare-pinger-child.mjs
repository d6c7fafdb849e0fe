// The yardstick of the n:n figure, the pinging side: one Node.js process playing every Pinger
// with plain ioredis. Told `{ burst, window }` over IPC, it keeps `window` pings in flight on each
// pair until `burst` pongs came back on each, as each Pinger agent does, then answers
// `{ messages }` (pings and pongs of all pairs). The pongs of every pair are read with one
// blocking XREAD, as a host's bus reads all its agents' inboxes; bare-relay-child.mjs answers
// the pings.
//
//   fork(bare-pinger-child.mjs, [redisUrl, JSON of [{ ping, topic, sender, pong }]])
//     ping, topic: the stream key and topic of the pair's pings; sender: their sender id;
//     pong: the stream key its pongs come back on
//
// It tells its parent `{ ready: true }` over IPC once it reads, and runs until the parent goes.
/* global process, console */
import { BareStreams, exitWithParent, messageJson } from "./bare-streams.mjs";

const [url, pairsJson] = process.argv.slice(2);
if (url === undefined || pairsJson === undefined) {
  console.error("usage: bare-pinger-child.mjs <redis-url> <pairs JSON>");
  process.exit(2);
}
const pairs = JSON.parse(pairsJson);
const byPong = new Map(pairs.map((pair) => [pair.pong, pair]));
const streams = new BareStreams(url);
exitWithParent(() => streams.stop());

/** The burst under way: its size, and by pair the pings sent and pongs received. */
let burst;

const ping = (pair) => {
  const progress = burst.pairs.get(pair);
  const n = progress.sent++;
  return streams.append(pair.ping, messageJson(pair.topic, pair.sender, { ping: n }));
};

await streams.start([...byPong.keys()], (key) => {
  if (burst === undefined) return undefined;
  const pair = byPong.get(key);
  const progress = burst.pairs.get(pair);
  progress.received += 1;
  if (progress.received === burst.total && (burst.done += 1) === pairs.length) {
    process.send({ messages: 2 * burst.total * pairs.length });
    burst = undefined;
    return undefined;
  }
  return progress.sent < burst.total ? ping(pair) : undefined;
});

process.on("message", (request) => {
  burst = {
    total: request.burst,
    done: 0,
    pairs: new Map(pairs.map((pair) => [pair, { sent: 0, received: 0 }])),
  };
  const first = Math.min(request.window, request.burst);
  const appends = pairs.flatMap((pair) => Array.from({ length: first }, () => ping(pair)));
  Promise.all(appends).catch((error) => {
    console.error("bare pinger:", error);
    process.exit(1);
  });
});
process.send({ ready: true });
