// What the commands that call agent hosts directly share, beside the engine's HostClients: the
// deadline of a call, what a failed call tells the person at the terminal, and state names.
import { Code, ConnectError } from "@connectrpc/connect";
import { errorCodeOf } from "@guildhall/engine";
import { AgentState } from "@guildhall/proto";
import { CliError, ExitCode } from "./exit-codes.js";

/** The deadline of one unary host call; streams that follow logs have none. */
export const HOST_CALL_TIMEOUT_MS = 10_000;

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
  // The commands cancel no call they still wait on: a cancel comes from the host's side, as when
  // it refuses a client certificate after a TLS 1.3 handshake.
  const unreachable = isConnectionFailure(connect) || connect.code === Code.Canceled;
  switch (unreachable ? "unavailable" : errorCodeOf(connect.code)) {
    case "unauthenticated":
      return new CliError(
        `host ${address} refused the call (${reason}): pass the hosts' token with --token or GUILDHALL_TOKEN`,
        ExitCode.failure,
      );
    case "not-found":
      return new CliError(`host ${address}: ${reason}`, ExitCode.notFound);
    case "unavailable":
    case "deadline-exceeded":
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
  [AgentState.HIBERNATED]: "hibernated",
};

/** An agent state of the host API as a word: `ready`, `crashed`, … */
export function agentStateName(state: AgentState): string {
  return STATE_NAMES[state] ?? "unknown";
}
