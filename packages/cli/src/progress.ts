// Progress of a command on stderr, so stdout carries only results: an ora spinner on a terminal,
// one plain line per step otherwise (CI logs, tests).
import ora, { type Ora } from "ora";
import pc from "picocolors";

/** Reports the steps of a long operation. */
export interface Progress {
  /** Shows `text` as the step in progress. */
  step(text: string): void;
  /** Ends the step as done. */
  done(text: string): void;
  /** Ends the step as failed. */
  fail(text: string): void;
  /** Clears whatever is shown. */
  stop(): void;
}

/** A {@link Progress} for stderr: a spinner when it is a terminal, plain lines otherwise. */
export function createProgress(): Progress {
  if (process.stderr.isTTY !== true) {
    const line = (text: string) => process.stderr.write(`${text}\n`);
    return {
      step: (text) => line(`… ${text}`),
      done: (text) => line(`✔ ${text}`),
      fail: (text) => line(`✖ ${text}`),
      stop: () => undefined,
    };
  }
  let spinner: Ora | undefined;
  return {
    step(text) {
      if (spinner === undefined) spinner = ora({ text, stream: process.stderr }).start();
      else spinner.text = text;
    },
    done(text) {
      (spinner ?? ora({ stream: process.stderr })).succeed(text);
      spinner = undefined;
    },
    fail(text) {
      (spinner ?? ora({ stream: process.stderr })).fail(pc.red(text));
      spinner = undefined;
    },
    stop() {
      spinner?.stop();
      spinner = undefined;
    },
  };
}
