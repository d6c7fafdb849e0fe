// Clients of the agent host API (AgentHostService) for commands that talk to hosts directly:
// listing agents and reading their logs. One HTTP/2 connection per host, closed with `close()`.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import type { ClusterTlsOptions } from "@guildhall/engine";
import { AgentHostService, AgentState } from "@guildhall/proto";
import type { SecureClientSessionOptions } from "node:http2";
import { CliError, ExitCode } from "./exit-codes.js";

/** The deadline of one unary host call; streams that follow logs have none. */
export const HOST_CALL_TIMEOUT_MS = 10_000;

/** A client of one agent host. */
export type HostClient = Client<typeof AgentHostService>;

/** How {@link HostApi} reaches the hosts. */
export interface HostApiOptions {
  /** Sent with every call, as hosts started with `GUILDHALL_TOKEN` require. */
  readonly token: string | undefined;
  /** TLS towards the hosts; undefined for plaintext HTTP/2. */
  readonly tls: ClusterTlsOptions | undefined;
}

/** Clients of agent hosts by address, each on a connection of its own. */
export class HostApi {
  readonly #options: HostApiOptions;
  readonly #clients = new Map<string, { manager: Http2SessionManager; client: HostClient }>();

  constructor(options: HostApiOptions) {
    this.#options = options;
  }

  /** The client of the host at `address` (`10.0.0.7:50051`), on a connection of its own. */
  client(address: string): HostClient {
    const known = this.#clients.get(address);
    if (known !== undefined) return known.client;
    const { token, tls } = this.#options;
    const baseUrl = `${tls === undefined ? "http" : "https"}://${address}`;
    const nodeOptions: SecureClientSessionOptions = {};
    if (tls?.ca !== undefined) nodeOptions.ca = tls.ca;
    if (tls?.cert !== undefined) nodeOptions.cert = tls.cert;
    if (tls?.key !== undefined) nodeOptions.key = tls.key;
    if (tls?.serverName !== undefined) nodeOptions.servername = tls.serverName;
    const manager = new Http2SessionManager(baseUrl, undefined, nodeOptions);
    const client = createClient(
      AgentHostService,
      createGrpcTransport({
        baseUrl,
        sessionManager: manager,
        interceptors:
          token === undefined
            ? []
            : [
                (next) => (request) => {
                  request.header.set("authorization", `Bearer ${token}`);
                  return next(request);
                },
              ],
      }),
    );
    this.#clients.set(address, { manager, client });
    return client;
  }

  /** Closes every connection. */
  close(): void {
    for (const { manager } of this.#clients.values()) manager.abort();
    this.#clients.clear();
  }
}

// Codes of the socket errors that mean the call never got through: refused, reset (what a TLS
// server does to a plaintext client), or a TLS handshake that failed on either side.
const CONNECTION_FAILURE =
  /^(E[A-Z]+|ERR_SSL_\w+|ERR_TLS_\w+|ERR_HTTP2_\w+|CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_\w+|SELF_SIGNED_\w+)$/;

function isConnectionFailure(error: ConnectError): boolean {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && CONNECTION_FAILURE.test(code);
}

/** A failed host call as an error that says what to do, with the matching exit status. */
export function hostCallError(address: string, error: unknown): CliError {
  const connect = ConnectError.from(error);
  const reason = connect.rawMessage;
  const code = isConnectionFailure(connect) ? Code.Unavailable : connect.code;
  switch (code) {
    case Code.Unauthenticated:
      return new CliError(
        `host ${address} refused the call (${reason}): pass the hosts' token with --token or GUILDHALL_TOKEN`,
        ExitCode.failure,
      );
    case Code.NotFound:
      return new CliError(`host ${address}: ${reason}`, ExitCode.notFound);
    // The commands cancel no call they still wait on: a cancel comes from the host's side, as
    // when it refuses a client certificate after a TLS 1.3 handshake.
    case Code.Canceled:
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new CliError(
        `host ${address} does not answer (${reason}): check that it runs, that this machine can reach its port, and that --tls, --tls-ca and --tls-cert/--tls-key match how the hosts serve (GUILDHALL_TLS_* of \`guildhall host\`)`,
        ExitCode.unreachable,
      );
    default:
      return new CliError(`host ${address}: ${reason}`, ExitCode.failure);
  }
}

const STATE_NAMES: Readonly<Record<number, string>> = {
  [AgentState.STARTING]: "starting",
  [AgentState.READY]: "ready",
  [AgentState.STOPPING]: "stopping",
  [AgentState.EXITED]: "exited",
  [AgentState.CRASHED]: "crashed",
  [AgentState.RESTARTING]: "restarting",
};

/** An agent state of the host API as a word: `ready`, `crashed`, … */
export function agentStateName(state: AgentState): string {
  return STATE_NAMES[state] ?? "unknown";
}
