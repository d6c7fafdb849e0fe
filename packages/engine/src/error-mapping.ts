// The one place where failed host calls become GuildhallErrors. Hosts answer with gRPC status
// codes (DESIGN section 6); callers see GuildhallError codes, which map one to one onto them, with
// the host's own message kept so it still says what to fix.
import { Code, ConnectError } from "@connectrpc/connect";
import { GuildhallError, type ErrorCode } from "@guildhall/core";

const TO_ERROR_CODE: Readonly<Record<Code, ErrorCode>> = {
  [Code.Canceled]: "aborted",
  [Code.Unknown]: "internal",
  [Code.InvalidArgument]: "invalid-argument",
  [Code.DeadlineExceeded]: "deadline-exceeded",
  [Code.NotFound]: "not-found",
  [Code.AlreadyExists]: "already-exists",
  [Code.PermissionDenied]: "permission-denied",
  [Code.ResourceExhausted]: "resource-exhausted",
  [Code.FailedPrecondition]: "failed-precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "invalid-argument",
  [Code.Unimplemented]: "failed-precondition",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "internal",
  [Code.Unauthenticated]: "unauthenticated",
};

/**
 * The GuildhallError code of a gRPC status code, as a host call that failed with it reports it:
 * CANCELLED and ABORTED are `aborted`, UNIMPLEMENTED is `failed-precondition`, UNKNOWN and
 * DATA_LOSS are `internal`, OUT_OF_RANGE is `invalid-argument`; every other code has a
 * GuildhallError code of its own name.
 */
export function errorCodeOf(code: Code): ErrorCode {
  return TO_ERROR_CODE[code];
}

/** What was being done when a call failed, for the message. */
export interface CallContext {
  /** The host called. */
  readonly host: string;
  /** The RPC, e.g. `CreateAgent`. */
  readonly method: string;
}

/** What the caller can do about a code, appended to messages whose text does not say it. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  unauthenticated: "give the engine the hosts' token (option token; hosts read GUILDHALL_TOKEN)",
  "deadline-exceeded": "raise rpcTimeoutMs or the call's timeoutMs if the host is just slow",
};

/**
 * Turns whatever a call to a host threw into a GuildhallError of the matching code. A refusal
 * keeps the host's message (which names the bad field, the module or the full host) followed by
 * the host's address. A call that could not connect (refused, unreachable) arrives as UNAVAILABLE
 * and becomes `unavailable`. A reset connection arrives as ABORTED (connect-node) and stays
 * `aborted`: it is also what a TLS host does to a plaintext client, and a stop that took it for an
 * unreachable host would remove a running agent's location. GuildhallErrors pass through unchanged.
 */
export function toGuildhallError(error: unknown, context: CallContext): GuildhallError {
  if (error instanceof GuildhallError) return error;
  const connect = ConnectError.from(error);
  const code = errorCodeOf(connect.code);
  const hint = HINTS[code];
  const text = connect.rawMessage === "" ? Code[connect.code] : connect.rawMessage;
  return new GuildhallError(
    code,
    `${text} (${context.method} on agent host ${context.host}${hint === undefined ? "" : `; ${hint}`})`,
    { cause: error },
  );
}
