// Runs a command's action and ends the process with a status that means something (exit-codes.ts),
// printing a failure as one line that says what to do rather than a stack trace.
import { errorMessage } from "@guildhall/core";
import { ExitCode, exitCodeOf } from "./exit-codes.js";
import { stopTracing } from "./tracing.js";

/**
 * Wraps a command action: when it resolves the process exits with the status it returned (default
 * 0); when it throws, the error's message goes to stderr and the process exits with its status.
 * Exiting explicitly ends connections (Redis, HTTP/2) that would otherwise keep it waiting.
 */
export function action<A extends unknown[]>(
  command: string,
  run: (...args: A) => Promise<ExitCode | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: ExitCode;
    try {
      code = (await run(...args)) ?? ExitCode.ok;
    } catch (error) {
      code = exitCodeOf(error);
      process.stderr.write(`guildhall ${command}: ${errorMessage(error)}\n`);
    }
    await stopTracing();
    process.exit(code);
  };
}
