// Ctrl-C for commands that run until stopped: the first SIGINT (or SIGTERM) asks for a clean stop,
// a second SIGINT exits at once with 130.
import { ExitCode } from "./exit-codes.js";

/** A stop request from the terminal or a process manager. */
export interface StopRequest {
  /** Resolves with the signal when the first SIGINT or SIGTERM arrives. */
  readonly requested: Promise<NodeJS.Signals>;
  /** Aborted when the stop is requested, for work to give up. */
  readonly signal: AbortSignal;
  /** Removes the handlers. */
  dispose(): void;
}

/** Listens for SIGINT and SIGTERM until disposed. */
export function listenForStop(): StopRequest {
  const controller = new AbortController();
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((r) => (resolve = r));
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      // A second Ctrl-C means "now"; agent processes notice their host is gone and exit.
      if (signal === "SIGINT") process.exit(ExitCode.interrupted);
      return;
    }
    controller.abort(new Error(`stopped by ${signal}`));
    resolve(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    requested,
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
