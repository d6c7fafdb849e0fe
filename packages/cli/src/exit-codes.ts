// What the exit status of `guildhall` means, so scripts can tell a typo from a cluster that is down,
// and the one error type commands throw to choose it.
import { GuildhallError } from "@guildhall/core";

/** Exit statuses of the `guildhall` command (documented in the README of @guildhall/cli). */
export const ExitCode = {
  /** Done as asked. */
  ok: 0,
  /** The operation failed: an agent did not start, a host refused, a stop failed. */
  failure: 1,
  /** Bad usage: an unknown command or flag, a bad flag value, a missing argument. */
  usage: 2,
  /** The guild file cannot be read or is not a valid guild spec. */
  badGuildFile: 3,
  /** The cluster cannot be reached: Redis is down, no agent host was found or answers. */
  unreachable: 4,
  /** What was named does not exist: no such agent or guild. */
  notFound: 5,
  /** Stopped by a second Ctrl-C, without waiting for a clean shutdown. */
  interrupted: 130,
} as const;

/** One of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is meant for the person at the terminal, with the exit status to use. */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The exit status for any error a command ends with. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof GuildhallError) {
    switch (error.code) {
      case "invalid-argument":
        return ExitCode.usage;
      case "unavailable":
        return ExitCode.unreachable;
      case "not-found":
        return ExitCode.notFound;
      default:
        return ExitCode.failure;
    }
  }
  return ExitCode.failure;
}
