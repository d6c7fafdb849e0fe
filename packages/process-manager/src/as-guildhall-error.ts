// Failures from outside the manager (a host's handler, the OS) become GuildhallErrors where they
// enter it, so that callers and agent processes always get a code.
import { errorMessage, GuildhallError } from "@guildhall/core";

/** `error` itself when it is a GuildhallError, else an `internal` one with its message. */
export function asGuildhallError(error: unknown): GuildhallError {
  return error instanceof GuildhallError
    ? error
    : new GuildhallError("internal", errorMessage(error));
}
