// Clients of the agent host API (AgentHostService) for commands that talk to hosts directly:
// listing agents and reading their logs. One HTTP/2 connection per host, closed with `close()`.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { AgentHostService, AgentState } from "@guildhall/proto";
import { CliError, ExitCode } from "./exit-codes.js";

/** The deadline of one unary host call; streams that follow logs have none. */
export const HOST_CALL_TIMEOUT_MS = 10_000;

/** A client of one agent host. */
export type HostClient = Client<typeof AgentHostService>;

/** Clients of agent hosts by address, sending `token` (if any) with every call. */
export class HostApi {
  readonly #token: string | undefined;
  readonly #clients = new Map<string, { manager: Http2SessionManager; client: HostClient }>();

  constructor(token: string | undefined) {
    this.#token = token;
  }

  /** The client of the host at `address` (`10.0.0.7:50051`), on a connection of its own. */
  client(address: string): HostClient {
    const known = this.#clients.get(address);
    if (known !== undefined) return known.client;
    const baseUrl = `http://${address}`;
    const manager = new Http2SessionManager(baseUrl);
    const token = this.#token;
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

/** A failed host call as an error that says what to do, with the matching exit status. */
export function hostCallError(address: string, error: unknown): CliError {
  const connect = ConnectError.from(error);
  const reason = connect.rawMessage;
  switch (connect.code) {
    case Code.Unauthenticated:
      return new CliError(
        `host ${address} refused the call (${reason}): pass the hosts' token with --token or GUILDHALL_TOKEN`,
        ExitCode.failure,
      );
    case Code.NotFound:
      return new CliError(`host ${address}: ${reason}`, ExitCode.notFound);
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new CliError(
        `host ${address} does not answer (${reason}): check that it runs and that this machine can reach its port`,
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
