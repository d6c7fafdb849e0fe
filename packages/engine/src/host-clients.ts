// One HTTP/2 connection per agent host, reused by every call to it. A Connect transport does not
// own a way to close its connection, so each gets a session manager of its own, aborted by
// `retain` and `close`.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { AgentHostService } from "@guildhall/proto";
import type { SecureClientSessionOptions } from "node:http2";
import { tracingInterceptor } from "./tracing-interceptor.js";

/** TLS towards the agent hosts. Every field is optional: `{}` is TLS with Node's trusted CAs. */
export interface ClusterTlsOptions {
  /** CA certificates (PEM) that sign the hosts' certificates. Default: Node's trusted CAs. */
  readonly ca?: string | Buffer;
  /** The engine's client certificate (PEM), for hosts that require mutual TLS. Default: none. */
  readonly cert?: string | Buffer;
  /** The private key of `cert` (PEM). Required with `cert`. */
  readonly key?: string | Buffer;
  /**
   * The name host certificates must carry, for certificates issued to a service name rather
   * than to each address dialled. Default: the host part of each address.
   */
  readonly serverName?: string;
}

/** What every connection to a host is made with. */
export interface HostClientsOptions {
  /** Dial the hosts over TLS (`https`). Default: plaintext HTTP/2 (h2c). */
  readonly tls?: ClusterTlsOptions | undefined;
  /** A bearer token sent with every call, as hosts started with `GUILDHALL_TOKEN` require. Default: none. */
  readonly token?: string | undefined;
}

interface Entry {
  readonly manager: Http2SessionManager;
  readonly client: Client<typeof AgentHostService>;
}

/**
 * Clients of the host API (AgentHostService of `@guildhall/proto`) by host address, each on an
 * HTTP/2 connection of its own that every call to that host reuses. Connections are pinged, so a
 * host that vanished without closing them fails the next call quickly. Calls fail with Connect's
 * `ConnectError`; `errorCodeOf` gives the GuildhallError code of its status.
 *
 * @example
 * ```ts
 * const hosts = new HostClients({ token: process.env.GUILDHALL_TOKEN });
 * const { agents } = await hosts.get("10.0.0.7:50051").listAgents({ guildId: "" });
 * hosts.close();
 * ```
 */
export class HostClients {
  readonly #entries = new Map<string, Entry>();
  readonly #options: HostClientsOptions;
  readonly #interceptors: Interceptor[];
  #closed = false;

  constructor(options: HostClientsOptions = {}) {
    this.#options = options;
    const token = options.token;
    this.#interceptors =
      token === undefined
        ? [tracingInterceptor]
        : [
            tracingInterceptor,
            (next) => async (request) => {
              request.header.set("authorization", `Bearer ${token}`);
              return next(request);
            },
          ];
  }

  /**
   * The client of the host at `address` (`10.0.0.7:50051`), connecting on first use.
   *
   * @throws Error after `close()`
   */
  get(address: string): Client<typeof AgentHostService> {
    if (this.#closed) throw new Error("host clients are closed");
    let entry = this.#entries.get(address);
    if (entry === undefined) {
      entry = this.#connect(address);
      this.#entries.set(address, entry);
    }
    return entry.client;
  }

  /** Closes the connections to hosts not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [address, entry] of this.#entries) {
      if (!keep.has(address)) {
        this.#entries.delete(address);
        entry.manager.abort();
      }
    }
  }

  /** Closes every connection; `get` throws afterwards. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) entry.manager.abort();
    this.#entries.clear();
  }

  #connect(address: string): Entry {
    const tls = this.#options.tls;
    const baseUrl = `${tls === undefined ? "http" : "https"}://${address}`;
    const nodeOptions: SecureClientSessionOptions = {};
    if (tls?.ca !== undefined) nodeOptions.ca = tls.ca;
    if (tls?.cert !== undefined) nodeOptions.cert = tls.cert;
    if (tls?.key !== undefined) nodeOptions.key = tls.key;
    if (tls?.serverName !== undefined) nodeOptions.servername = tls.serverName;
    // Pings keep a connection to a quiet host verified, so a host that vanished without closing
    // its sockets (a killed pod) fails the next call quickly instead of at its deadline.
    const manager = new Http2SessionManager(
      baseUrl,
      { pingIntervalMs: 10_000, pingTimeoutMs: 5_000 },
      nodeOptions,
    );
    const transport = createGrpcTransport({
      baseUrl,
      sessionManager: manager,
      interceptors: this.#interceptors,
    });
    return { manager, client: createClient(AgentHostService, transport) };
  }
}
