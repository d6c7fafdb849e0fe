// The one place where failures become gRPC status codes (as connect-node's node-error.ts does for
// Node errors). Everything below the RPC edge throws GuildhallError; the codes map one to one.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  GRPC_STATUS_OF_ERROR_CODE,
  GuildhallError,
  errorMessage,
  type ErrorCode,
} from "@guildhall/core";

/** The gRPC status code of a GuildhallError code. */
export function codeOf(code: ErrorCode): Code {
  // Connect's Code enum carries the gRPC status numbers themselves.
  return GRPC_STATUS_OF_ERROR_CODE[code];
}

/**
 * Turns anything a handler threw into the ConnectError the client receives: GuildhallErrors keep
 * their message under the matching code; ConnectErrors pass through; anything else is INTERNAL
 * with a pointer to the host log, where the full error is written.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof GuildhallError) {
    return new ConnectError(error.message, codeOf(error.code), undefined, undefined, error);
  }
  return new ConnectError(
    `internal error in the agent host: ${errorMessage(error)}; see the host's log for details`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/** The snake_case name of a status code, as metrics label it (`ok` for success). */
export function codeName(code: Code | undefined): string {
  if (code === undefined) return "ok";
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error);
  }
}

/**
 * The interceptor that applies {@link toConnectError} to everything a handler throws, before it
 * returns and while it streams, so no handler maps errors itself.
 */
export const errorMappingInterceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (!res.stream) return res;
    return { ...res, message: mapStreamErrors(res.message) };
  } catch (error) {
    throw toConnectError(error);
  }
};
