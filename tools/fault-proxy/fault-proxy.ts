// A TCP proxy for fault tests: one listening port forwarding every connection to one target, with
// faults switched on and off while connections run: added latency per direction, a stall that holds
// every byte until it is lifted, a reset of every connection (RST, as a crashed peer or a
// middlebox sends), and refusal of new connections (nothing listens, as a dead process leaves it).
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** Which way bytes travel through the proxy. */
export type FaultDirection =
  /** From the client that connected to the proxy to the target. */
  | "upstream"
  /** From the target back to the client. */
  | "downstream";

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The host connections are forwarded to. Default `"127.0.0.1"`. */
  readonly targetHost?: string;
  /** The port connections are forwarded to. Required. */
  readonly targetPort: number;
  /** The address the proxy listens on. Default `"127.0.0.1"`. */
  readonly listenHost?: string;
  /** The port the proxy listens on; 0 picks a free one. Default 0. */
  readonly listenPort?: number;
  /** Latency added to each chunk sent to the target, in milliseconds, from the start. Default 0. */
  readonly upstreamLatencyMs?: number;
  /** Latency added to each chunk sent back to the client, in milliseconds, from the start. Default 0. */
  readonly downstreamLatencyMs?: number;
}

/** What the proxy holds and forwards right now, to wait on in tests. */
export interface FaultProxyStats {
  /** Client connections open through the proxy. */
  readonly connections: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Bytes received from clients and not yet written to the target. */
  readonly queuedUpstreamBytes: number;
  /** Bytes received from the target and not yet written to clients. */
  readonly queuedDownstreamBytes: number;
  /** Bytes written to the target since the start. */
  readonly forwardedUpstreamBytes: number;
  /** Bytes written to clients since the start. */
  readonly forwardedDownstreamBytes: number;
}

/** A running proxy; see {@link startFaultProxy}. */
export interface FaultProxy {
  /** The address the proxy listens on. */
  readonly host: string;
  /** The port the proxy listens on (fixed for its life, across refusals). */
  readonly port: number;
  /** `host:port`, as a client dials it (`[::1]:port` for IPv6). */
  readonly address: string;
  /** Sets the latency added to each chunk in one direction, in milliseconds, from now on. */
  setLatency(direction: FaultDirection, latencyMs: number): void;
  /** Holds every byte in both directions until {@link FaultProxy.resume}; connections stay open. */
  stall(): void;
  /** Lifts a stall: held bytes are forwarded, in order. */
  resume(): void;
  /**
   * Stops listening, so new connections are refused (ECONNREFUSED); open connections keep
   * working. Resolves once the port no longer listens.
   */
  refuseNewConnections(): Promise<void>;
  /** Listens again on the same port after {@link FaultProxy.refuseNewConnections}. */
  acceptNewConnections(): Promise<void>;
  /**
   * Destroys every open connection with a TCP RST on both sides: clients and the target see
   * ECONNRESET. New connections are still accepted.
   */
  resetAll(): void;
  /** What the proxy holds and forwards right now. */
  stats(): FaultProxyStats;
  /**
   * Stops listening, drops every held byte and timer, and destroys every connection; resolves once
   * every socket released its handle. Idempotent.
   */
  close(): Promise<void>;
}

/** How many bytes one direction of one connection holds before it stops reading its source. */
const HIGH_WATER_BYTES = 1024 * 1024;

interface Chunk {
  readonly data: Buffer;
  readonly releaseAt: number;
}

function invalid(message: string): Error {
  return new TypeError(`startFaultProxy: ${message}`);
}

function checkPort(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 65_535) {
    throw invalid(`${name} must be a whole number from ${min} to 65535, got ${String(value)}`);
  }
  return value;
}

function checkLatency(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalid(`${name} must be a number of milliseconds, 0 or more, got ${String(value)}`);
  }
  return value;
}

function checkHost(name: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid(`${name} must be a non-empty host name or address, got ${String(value)}`);
  }
  return value;
}

/** The state the pipes of every connection share. */
interface Faults {
  latencyMs: Record<FaultDirection, number>;
  stalled: boolean;
  queued: Record<FaultDirection, number>;
  forwarded: Record<FaultDirection, number>;
}

/**
 * One direction of one connection: chunks wait in arrival order until their latency passed and no
 * stall holds them; the end of the stream is forwarded after the last chunk.
 */
class DelayedPipe {
  readonly #chunks: Chunk[] = [];
  #queuedBytes = 0;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  #waitingForDrain = false;
  #closed = false;

  constructor(
    readonly direction: FaultDirection,
    readonly source: Socket,
    readonly target: Socket,
    readonly faults: Faults,
  ) {
    source.on("data", (data: Buffer) => {
      this.#chunks.push({ data, releaseAt: Date.now() + faults.latencyMs[direction] });
      this.#queuedBytes += data.length;
      faults.queued[direction] += data.length;
      if (this.#queuedBytes >= HIGH_WATER_BYTES) source.pause();
      this.pump();
    });
    source.on("end", () => {
      this.#ended = true;
      this.pump();
    });
    target.on("drain", () => {
      this.#waitingForDrain = false;
      this.pump();
    });
  }

  /** Forwards whatever may go now, and sets a timer for the next chunk still delayed. */
  pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (!this.#closed && !this.faults.stalled && !this.#waitingForDrain) {
      if (this.target.destroyed) {
        // The other side is gone: nothing held here can be delivered.
        this.close();
        return;
      }
      const next = this.#chunks[0];
      if (next === undefined) {
        if (this.#ended && !this.target.writableEnded) this.target.end();
        return;
      }
      const wait = next.releaseAt - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.#chunks.shift();
      this.#release(next.data.length);
      this.faults.forwarded[this.direction] += next.data.length;
      if (!this.target.write(next.data)) this.#waitingForDrain = true;
    }
  }

  /** Drops what is held: the connection is gone. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const chunk of this.#chunks.splice(0)) this.#release(chunk.data.length);
  }

  #release(bytes: number): void {
    this.#queuedBytes -= bytes;
    this.faults.queued[this.direction] -= bytes;
    if (this.#queuedBytes < HIGH_WATER_BYTES && this.source.isPaused()) this.source.resume();
  }
}

/** A client connection and its connection to the target. */
class ProxiedConnection {
  /** Settles once both sockets released their handles. */
  readonly released: Promise<void>;
  readonly #pipes: DelayedPipe[];
  #closed = false;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    faults: Faults,
    readonly onClosed: (connection: ProxiedConnection) => void,
  ) {
    this.#pipes = [
      new DelayedPipe("upstream", client, upstream, faults),
      new DelayedPipe("downstream", upstream, client, faults),
    ];
    this.released = Promise.all([once(client, "close"), once(upstream, "close")]).then(
      () => undefined,
      () => undefined,
    );
    // A socket that fails takes the other with it; one that a peer reset has the other reset
    // too, as a crashed peer would leave it.
    const fail = (other: Socket) => (error: NodeJS.ErrnoException) => {
      if (this.#closed) return;
      this.#finish();
      if (error.code === "ECONNRESET" || error.code === "ECONNREFUSED") other.resetAndDestroy();
      else other.destroy();
    };
    client.on("error", fail(upstream));
    upstream.on("error", fail(client));
    // A clean close is one side done: the pipes still deliver what they hold, and end the other
    // side after it, so the connection is over once both sockets closed.
    const closed = () => {
      if (client.destroyed && upstream.destroyed && !this.#closed) this.#finish();
    };
    client.on("close", closed);
    upstream.on("close", closed);
  }

  pump(): void {
    for (const pipe of this.#pipes) pipe.pump();
  }

  reset(): void {
    if (this.#closed) return;
    this.#finish();
    this.client.resetAndDestroy();
    this.upstream.resetAndDestroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#finish();
    this.client.destroy();
    this.upstream.destroy();
  }

  #finish(): void {
    this.#closed = true;
    for (const pipe of this.#pipes) pipe.close();
    this.onClosed(this);
  }
}

/**
 * Starts a TCP proxy on `listenHost:listenPort` (a free loopback port by default) that forwards
 * each connection to `targetHost:targetPort`, and resolves once it listens. Faults apply to
 * connections already open as well as new ones. Bytes are never reordered: a chunk waits for the
 * ones before it even when the latency was lowered since they arrived.
 *
 * @throws TypeError naming a bad option; the listen error when the port cannot be had
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ targetPort: redis.port });
 * const client = new Redis(`redis://${proxy.address}`);
 * proxy.setLatency("downstream", 200);
 * proxy.stall(); // commands hang
 * proxy.resume(); // and complete
 * proxy.resetAll(); // the client sees ECONNRESET and reconnects
 * await proxy.close();
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid("options must be an object: startFaultProxy({ targetPort })");
  }
  const targetHost = checkHost("targetHost", options.targetHost ?? "127.0.0.1");
  const targetPort = checkPort("targetPort", options.targetPort, 1);
  const listenHost = checkHost("listenHost", options.listenHost ?? "127.0.0.1");
  let port = checkPort("listenPort", options.listenPort ?? 0, 0);
  const faults: Faults = {
    latencyMs: {
      upstream: checkLatency("upstreamLatencyMs", options.upstreamLatencyMs ?? 0),
      downstream: checkLatency("downstreamLatencyMs", options.downstreamLatencyMs ?? 0),
    },
    stalled: false,
    queued: { upstream: 0, downstream: 0 },
    forwarded: { upstream: 0, downstream: 0 },
  };
  const connections = new Set<ProxiedConnection>();
  let accepted = 0;
  let server: Server | undefined;
  let closed = false;

  const accept = (client: Socket): void => {
    accepted++;
    const upstream = createConnection({ host: targetHost, port: targetPort, allowHalfOpen: true });
    const connection = new ProxiedConnection(client, upstream, faults, (c) =>
      connections.delete(c),
    );
    connections.add(connection);
  };

  const listen = async (): Promise<void> => {
    const next = createServer({ allowHalfOpen: true }, accept);
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen({ host: listenHost, port }, () => {
        next.off("error", reject);
        resolve();
      });
    });
    // A failed accept (out of file descriptors) fails that one client, not the proxy.
    next.on("error", () => undefined);
    const bound = next.address();
    if (bound === null || typeof bound === "string") throw new Error("the proxy has no TCP port");
    port = bound.port;
    server = next;
  };

  const unlisten = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    // The listening socket closes at once; "close" itself waits for connections, which are
    // tracked here rather than by the server.
    const stopped = new Promise<void>((resolve) => current.close(() => resolve()));
    current.unref();
    await Promise.race([stopped, new Promise<void>((resolve) => setImmediate(resolve))]);
  };

  await listen();
  const display = listenHost.includes(":") ? `[${listenHost}]` : listenHost;

  return {
    host: listenHost,
    get port() {
      return port;
    },
    get address() {
      return `${display}:${port}`;
    },
    setLatency(direction, latencyMs) {
      if (direction !== "upstream" && direction !== "downstream") {
        throw new TypeError(
          `setLatency: direction must be "upstream" or "downstream", got ${String(direction)}`,
        );
      }
      faults.latencyMs[direction] = checkLatency("latencyMs", latencyMs);
    },
    stall() {
      faults.stalled = true;
    },
    resume() {
      faults.stalled = false;
      for (const connection of connections) connection.pump();
    },
    async refuseNewConnections() {
      await unlisten();
    },
    async acceptNewConnections() {
      if (closed) throw new Error("the fault proxy is closed");
      if (server === undefined) await listen();
    },
    resetAll() {
      for (const connection of [...connections]) connection.reset();
      connections.clear();
    },
    stats() {
      return {
        connections: connections.size,
        accepted,
        queuedUpstreamBytes: faults.queued.upstream,
        queuedDownstreamBytes: faults.queued.downstream,
        forwardedUpstreamBytes: faults.forwarded.upstream,
        forwardedDownstreamBytes: faults.forwarded.downstream,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      const current = server;
      server = undefined;
      const open = [...connections];
      for (const connection of open) connection.destroy();
      connections.clear();
      if (current !== undefined)
        await new Promise<void>((resolve) => current.close(() => resolve()));
      await Promise.all(open.map((connection) => connection.released));
    },
  };
}
