// Everything a run starts is stopped, whatever happens: each resource registers how to stop it as
// it starts, and the stops run in reverse order at the end, on failure, and on Ctrl-C / SIGTERM.

/** Stops something; may return a promise, which is awaited. */
type Stop = () => unknown;

/** A stack of stops, run last-in first-out. */
export class Teardown {
  readonly #stops: { name: string; stop: Stop }[] = [];
  #running: Promise<void> | undefined;

  /** Registers how to stop something that just started. */
  add(name: string, stop: Stop): void {
    this.#stops.push({ name, stop });
  }

  /** Stops everything registered, newest first; a failing stop does not keep the others from running. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let entry = this.#stops.pop(); entry !== undefined; entry = this.#stops.pop()) {
        try {
          await entry.stop();
        } catch (error) {
          console.error(`bench: stopping ${entry.name} failed:`, error);
        }
      }
    })();
    return this.#running;
  }

  /**
   * Runs the stops when the process is told to end (SIGINT, SIGTERM, SIGHUP), then `force` (kill
   * -9 what is left: a process that was still starting has no stop yet), and exits with 128 + the
   * signal number. A second signal while the stops run calls `force` and exits at once.
   */
  onSignals(force: () => void): void {
    const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
    for (const [signal, number] of Object.entries(numbers)) {
      process.on(signal, () => {
        if (this.#running !== undefined) {
          force();
          process.exit(128 + number);
        }
        console.error(`\nbench: ${signal}: stopping everything it started`);
        void this.run().finally(() => {
          force();
          process.exit(128 + number);
        });
      });
    }
  }
}
