// Closing an ioredis client and knowing when it is closed. `disconnect()` emits "end" once the
// socket closes, except while the client waits between reconnection attempts: then there is no
// socket to close, and disconnecting only cancels the next attempt.
import type { Redis } from "ioredis";

/** Closes `client` without waiting for pending replies, and resolves once it holds no socket. */
export async function disconnectClient(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status === "reconnecting") {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
  client.disconnect();
  await ended;
}
