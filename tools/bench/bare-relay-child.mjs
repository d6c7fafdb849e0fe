// The yardstick of the relay figures: a Node.js process that relays with plain ioredis what an
// agent relays through its host. It reads the streams of its routes with one blocking XREAD (as a
// host's bus reads all its agents' inboxes) and, for each entry, XADDs a reply carrying the same
// payload to the route's reply stream: a valid message, so the bench's RedisBus client reads it as
// it reads an agent's. With one route it is the bare relay of the `relay` section; with one route
// per pair, the process playing every Ponger of the `n:n` section.
//
//   fork(bare-relay-child.mjs, [redisUrl, JSON of [{ from, to, topic, sender }]])
//     from: the stream key read; to, topic: the reply's stream key and topic; sender: its sender id
//
// It tells its parent `{ ready: true }` over IPC once it reads, and runs until the parent goes.
/* global process, console */
import { BareStreams, exitWithParent, messageJson } from "./bare-streams.mjs";

const [url, routesJson] = process.argv.slice(2);
if (url === undefined || routesJson === undefined) {
  console.error("usage: bare-relay-child.mjs <redis-url> <routes JSON>");
  process.exit(2);
}
const routes = new Map(JSON.parse(routesJson).map((route) => [route.from, route]));
const streams = new BareStreams(url);
exitWithParent(() => streams.stop());
await streams.start([...routes.keys()], (key, message) => {
  const route = routes.get(key);
  return streams.append(route.to, messageJson(route.topic, route.sender, message.payload));
});
process.send({ ready: true });
