// A free TCP port for a test server (or for a test that needs a port nothing listens on).
import { once } from "node:events";
import { createServer } from "node:net";

/** A TCP port that was free a moment ago: the kernel picks it, then we release it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no TCP port was assigned");
  return address.port;
}
