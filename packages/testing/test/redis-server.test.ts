// startRedisServer against the real redis-server: it serves on its port, stops, starts again on the
// same port, and with appendOnly keeps across a SIGKILL what it acknowledged.
import { createConnection } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startRedisServer, type RedisTestServer } from "@guildhall/testing";

/** Sends inline commands to Redis at `port` and resolves with its replies, one per command. */
async function send(port: number, ...commands: string[]): Promise<string[]> {
  const socket = createConnection({ port, host: "127.0.0.1" });
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (received += chunk));
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.once("connect", () => socket.end(commands.map((c) => `${c}\r\n`).join("")));
    socket.once("close", () => resolve(received.split("\r\n").filter((line) => line !== "")));
  });
}

let server: RedisTestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe("startRedisServer", () => {
  it("serves on a port of its own until stopped, then again on the same port", async () => {
    server = await startRedisServer();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.pid).toBeGreaterThan(0);
    expect(await send(server.port, "PING")).toEqual(["+PONG"]);

    await server.stop();
    expect(server.pid).toBeUndefined();
    await expect(send(server.port, "PING")).rejects.toMatchObject({ code: "ECONNREFUSED" });

    await server.start();
    expect(await send(server.port, "PING")).toEqual(["+PONG"]);
  });

  it("keeps acknowledged writes across a SIGKILL with appendOnly", async () => {
    server = await startRedisServer({ appendOnly: true });
    expect(await send(server.port, "SET kept yes")).toEqual(["+OK"]);
    await server.kill();
    await server.start();
    expect(await send(server.port, "GET kept")).toEqual(["$3", "yes"]);
  });
});
