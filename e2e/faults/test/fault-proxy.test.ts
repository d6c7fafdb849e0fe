// The fault proxy the scenarios use, against real servers: an echo server of node:net and a
// redis-server reached through ioredis. Faults are observed through what arrives and through the
// proxy's own counters, polled with deadlines; nothing waits on a clock.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import { startFaultProxy, type FaultProxy } from "../../../tools/fault-proxy/fault-proxy.js";

/** An echo server that counts the connections it holds. */
interface EchoServer {
  readonly port: number;
  connections(): Promise<number>;
  close(): Promise<void>;
}

async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("echo server has no port");
  return {
    port: address.port,
    connections: () =>
      new Promise((resolve, reject) =>
        server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client connection and everything it received, as text. */
interface Client {
  readonly socket: Socket;
  received(): string;
  /** The error the socket failed with, if it did. */
  error(): NodeJS.ErrnoException | undefined;
  closed(): boolean;
}

async function connect(port: number): Promise<Client> {
  const socket = createConnection({ host: "127.0.0.1", port });
  let text = "";
  let failure: NodeJS.ErrnoException | undefined;
  let isClosed = false;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.on("error", (error: NodeJS.ErrnoException) => (failure = error));
  socket.on("close", () => (isClosed = true));
  await Promise.race([
    once(socket, "connect"),
    once(socket, "close").then(() => {
      throw failure ?? new Error("connection closed before it was established");
    }),
  ]);
  return { socket, received: () => text, error: () => failure, closed: () => isClosed };
}

/** The error a connection attempt fails with. */
async function connectError(port: number): Promise<NodeJS.ErrnoException> {
  const error: unknown = await connect(port).then(
    (client) => {
      client.socket.destroy();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error, "expected the connection to fail").toBeInstanceOf(Error);
  return error as NodeJS.ErrnoException;
}

/** Open TCP handles of this process, by kind. */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind.startsWith("TCP")).length;
}

let echo: EchoServer;
let redis: RedisTestServer;
const proxies: FaultProxy[] = [];
const clients: Client[] = [];
const redisClients: Redis[] = [];

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ targetPort: port });
  proxies.push(proxy);
  return proxy;
}

async function clientOf(proxy: FaultProxy): Promise<Client> {
  const client = await connect(proxy.port);
  clients.push(client);
  return client;
}

function redisThrough(proxy: FaultProxy): { redis: Redis; errors: NodeJS.ErrnoException[] } {
  const client = new Redis({ host: "127.0.0.1", port: proxy.port, lazyConnect: false });
  const errors: NodeJS.ErrnoException[] = [];
  client.on("error", (error: NodeJS.ErrnoException) => errors.push(error));
  redisClients.push(client);
  return { redis: client, errors };
}

beforeAll(async () => {
  [echo, redis] = await Promise.all([startEchoServer(), startRedisServer()]);
});

afterEach(async () => {
  await Promise.all(
    redisClients.splice(0).map(async (client) => {
      const ended = once(client, "end");
      client.disconnect();
      await ended;
    }),
  );
  await Promise.all(
    clients.splice(0).map(async (client) => {
      if (client.closed()) return;
      const closed = once(client.socket, "close");
      client.socket.destroy();
      await closed;
    }),
  );
  for (const proxy of proxies.splice(0)) await proxy.close();
});

afterAll(async () => {
  await echo?.close();
  await redis?.stop();
});

describe("fault proxy over an echo server", () => {
  it("refuses bad options, naming them", async () => {
    await expect(startFaultProxy({ targetPort: 0 })).rejects.toThrow(/targetPort must be/);
    await expect(startFaultProxy({ targetPort: 1, upstreamLatencyMs: -1 })).rejects.toThrow(
      /upstreamLatencyMs must be/,
    );
    await expect(startFaultProxy({ targetPort: 1, listenHost: "" })).rejects.toThrow(
      /listenHost must be/,
    );
    const proxy = await proxyTo(echo.port);
    expect(() => proxy.setLatency("upstream", Number.NaN)).toThrow(/latencyMs must be/);
    expect(() => proxy.setLatency("sideways" as "upstream", 1)).toThrow(/direction must be/);
  });

  it("holds each chunk for the added latency and never reorders them", async () => {
    const proxy = await proxyTo(echo.port);
    const client = await clientOf(proxy);
    client.socket.write("plain;");
    await waitFor(() => client.received() === "plain;", {
      description: "the echo without latency",
    });

    const latencyMs = 200;
    proxy.setLatency("upstream", latencyMs);
    const sentAt = performance.now();
    client.socket.write("slow;");
    await waitFor(() => proxy.stats().queuedUpstreamBytes === 5, {
      description: "the proxy to hold the chunk",
    });
    expect(client.received()).toBe("plain;");
    await waitFor(() => client.received() === "plain;slow;", { description: "the delayed echo" });
    // A lower bound the proxy guarantees, not a speed: the chunk cannot have arrived sooner.
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(latencyMs - 1);

    // Chunks sent after the latency was lowered would be due first; they wait their turn.
    const sent: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 100) proxy.setLatency("upstream", 0);
      if (i === 150) proxy.setLatency("downstream", 50);
      const line = `${i};`;
      sent.push(line);
      client.socket.write(line);
    }
    const expected = `plain;slow;${sent.join("")}`;
    await waitFor(() => client.received().length >= expected.length, {
      description: "every chunk, in order",
    });
    expect(client.received()).toBe(expected);
  });

  it("forwards nothing while stalled, and everything once resumed", async () => {
    const proxy = await proxyTo(echo.port);
    const client = await clientOf(proxy);
    const before = proxy.stats();
    proxy.stall();
    client.socket.write("held");
    await waitFor(() => proxy.stats().queuedUpstreamBytes === 4, {
      description: "the proxy to hold the bytes",
    });
    // Held, not lost or late: the proxy has them and has written none of them on.
    expect(proxy.stats().forwardedUpstreamBytes).toBe(before.forwardedUpstreamBytes);
    expect(client.received()).toBe("");
    expect(proxy.stats().connections).toBe(1);

    proxy.resume();
    await waitFor(() => client.received() === "held", { description: "the held bytes to arrive" });
    expect(proxy.stats().queuedUpstreamBytes).toBe(0);
  });

  it("resets every connection: the client sees ECONNRESET, the target loses its side", async () => {
    const proxy = await proxyTo(echo.port);
    const a = await clientOf(proxy);
    const b = await clientOf(proxy);
    a.socket.write("x");
    await waitFor(() => a.received() === "x", { description: "the echo" });
    await waitFor(
      async () => {
        return (await echo.connections()) === 2;
      },
      { description: "the echo server to hold both connections" },
    );

    proxy.resetAll();
    await waitFor(() => a.closed() && b.closed(), { description: "both clients to be reset" });
    expect(a.error()?.code).toBe("ECONNRESET");
    expect(b.error()?.code).toBe("ECONNRESET");
    expect(proxy.stats().connections).toBe(0);
    await waitFor(
      async () => {
        return (await echo.connections()) === 0;
      },
      { description: "the echo server to lose both connections" },
    );

    // New connections are still accepted.
    const c = await clientOf(proxy);
    c.socket.write("again");
    await waitFor(() => c.received() === "again", { description: "an echo on a new connection" });
  });

  it("resets the client when the target refuses, as a dead server behind a proxy looks", async () => {
    const gone = await startEchoServer();
    const port = gone.port;
    await gone.close();
    const proxy = await proxyTo(port);
    // The reset may come before or after the client saw its connection established.
    const socket = createConnection({ host: "127.0.0.1", port: proxy.port });
    const [error] = (await once(socket, "error")) as [NodeJS.ErrnoException];
    expect(error.code).toBe("ECONNRESET");
    await waitFor(() => proxy.stats().connections === 0, {
      description: "the proxy to drop the connection",
    });
  });

  it("refuses new connections while open ones keep working, then accepts again on the same port", async () => {
    const proxy = await proxyTo(echo.port);
    const open = await clientOf(proxy);
    const port = proxy.port;

    await proxy.refuseNewConnections();
    expect((await connectError(port)).code).toBe("ECONNREFUSED");
    open.socket.write("still here");
    await waitFor(() => open.received() === "still here", {
      description: "the open connection to echo",
    });

    await proxy.acceptNewConnections();
    expect(proxy.port).toBe(port);
    const fresh = await clientOf(proxy);
    fresh.socket.write("back");
    await waitFor(() => fresh.received() === "back", {
      description: "an echo on a new connection",
    });
  });

  it("leaves no socket, listener or held byte behind when closed", async () => {
    const baseline = tcpHandles();
    const proxy = await startFaultProxy({ targetPort: echo.port, downstreamLatencyMs: 60_000 });
    proxies.push(proxy);
    const held = await clientOf(proxy);
    const stalled = await clientOf(proxy);
    held.socket.write("delayed for a minute");
    await waitFor(() => proxy.stats().queuedDownstreamBytes > 0, {
      description: "the delayed echo to be held",
    });
    proxy.stall();
    stalled.socket.write("stalled");
    await waitFor(() => proxy.stats().queuedUpstreamBytes > 0, {
      description: "the stalled bytes to be held",
    });
    expect(tcpHandles()).toBeGreaterThan(baseline);

    await proxy.close();
    await proxy.close();
    // Resolved once the proxy's sockets are released: its clients were closed with them.
    await waitFor(
      () => {
        return held.closed() && stalled.closed();
      },
      { description: "the clients to see their connections closed" },
    );
    expect(proxy.stats()).toMatchObject({
      connections: 0,
      queuedUpstreamBytes: 0,
      queuedDownstreamBytes: 0,
    });
    await waitFor(
      async () => {
        return (await echo.connections()) === 0;
      },
      { description: "the echo server to lose every connection" },
    );
    await waitFor(() => tcpHandles() === baseline, {
      description: "every TCP handle of the test to be released",
    });
    expect((await connectError(proxy.port)).code).toBe("ECONNREFUSED");
  });
});

describe("fault proxy over redis-server, through ioredis", () => {
  it("delays replies but keeps them in order", async () => {
    const proxy = await proxyTo(redis.port);
    const { redis: client } = redisThrough(proxy);
    expect(await client.ping()).toBe("PONG");
    proxy.setLatency("downstream", 100);
    const key = `fault-proxy:${Math.random().toString(36).slice(2)}`;
    const replies = await Promise.all(Array.from({ length: 50 }, () => client.incr(key)));
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await client.del(key);
  });

  it("holds a command while stalled and answers it once resumed", async () => {
    const proxy = await proxyTo(redis.port);
    const { redis: client } = redisThrough(proxy);
    expect(await client.ping()).toBe("PONG");
    proxy.stall();
    let answer: string | undefined;
    const pong = client.ping().then((reply) => (answer = reply));
    await waitFor(() => proxy.stats().queuedUpstreamBytes > 0, {
      description: "the command to be held",
    });
    expect(answer).toBeUndefined();
    proxy.resume();
    expect(await pong).toBe("PONG");
  });

  it("resets the connection: ioredis reports ECONNRESET, then reconnects through the proxy", async () => {
    const proxy = await proxyTo(redis.port);
    const { redis: client, errors } = redisThrough(proxy);
    expect(await client.ping()).toBe("PONG");
    const accepted = proxy.stats().accepted;
    proxy.resetAll();
    await waitFor(() => errors.some((e) => e.code === "ECONNRESET"), {
      description: "ioredis to report the reset",
    });
    expect(await client.ping()).toBe("PONG");
    expect(proxy.stats().accepted).toBeGreaterThan(accepted);
  });
});
