// The recent output of one agent, kept in memory with a fixed bound so a chatty agent cannot grow
// the host, and streamed to any number of followers (GetAgentLogs with follow).

/** Which pipe of the agent process a line came from. */
export type LogStream = "stdout" | "stderr";

/** One line an agent process wrote. */
export interface LogLine {
  /** Position in this agent's output, from 1, without gaps; a follower that sees one skipped fell behind. */
  readonly seq: number;
  /** When the host read the line, in milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly stream: LogStream;
  /** The process that wrote it (an agent keeps its log across restarts). */
  readonly pid: number;
  /** The line without its newline. */
  readonly text: string;
}

/** Options of {@link LogBuffer.follow}. */
export interface FollowOptions {
  /** Buffered lines to yield first: the last `tail` of them. Default: all buffered lines. */
  readonly tail?: number;
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
}

type Listener = (line: LogLine) => void;

/** A bounded ring of log lines with live followers. */
export class LogBuffer {
  readonly #capacity: number;
  readonly #ring: (LogLine | undefined)[];
  #next = 0;
  #size = 0;
  #seq = 0;
  #closed = false;
  readonly #listeners = new Set<Listener>();
  readonly #closeListeners = new Set<() => void>();

  /** @param capacity lines kept; older ones are dropped first */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
    this.#ring = new Array<LogLine | undefined>(this.#capacity);
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Appends a line (ignored once closed) and hands it to followers. */
  append(stream: LogStream, pid: number, text: string): void {
    if (this.#closed) return;
    const line: LogLine = { seq: ++this.#seq, timestamp: Date.now(), stream, pid, text };
    this.#ring[this.#next] = line;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#size = Math.min(this.#size + 1, this.#capacity);
    for (const listener of this.#listeners) listener(line);
  }

  /** The buffered lines, oldest first; only the last `tail` when given. */
  lines(tail?: number): LogLine[] {
    const count = tail === undefined ? this.#size : Math.max(0, Math.min(tail, this.#size));
    const out: LogLine[] = [];
    for (let position = this.#size - count; position < this.#size; position++) {
      const slot = (this.#next - this.#size + position + this.#capacity) % this.#capacity;
      const line = this.#ring[slot];
      if (line !== undefined) out.push(line);
    }
    return out;
  }

  /**
   * Calls `listener` with every line appended from now on; returns the unsubscribe function.
   * The listener runs synchronously inside `append`, so it must not block.
   */
  subscribe(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Yields the buffered lines (or the last `tail`), then each new line as it is appended, until
   * the buffer is closed, `signal` aborts, or the consumer stops iterating. A consumer slower than
   * the agent keeps at most `capacity` pending lines and drops the oldest (visible as a `seq` gap).
   */
  follow(options: FollowOptions = {}): AsyncIterableIterator<LogLine> {
    const pending: LogLine[] = this.lines(options.tail);
    let wake: (() => void) | undefined;
    let done = this.#closed;
    const signal = options.signal;
    const finish = (): void => {
      done = true;
      unsubscribe();
      this.#closeListeners.delete(finish);
      signal?.removeEventListener("abort", finish);
      wake?.();
    };
    const unsubscribe = this.subscribe((line) => {
      pending.push(line);
      if (pending.length > this.#capacity) pending.shift();
      wake?.();
    });
    this.#closeListeners.add(finish);
    if (signal?.aborted === true) finish();
    else signal?.addEventListener("abort", finish, { once: true });
    if (done) finish();

    const iterator: AsyncIterableIterator<LogLine> = {
      next: async (): Promise<IteratorResult<LogLine>> => {
        for (;;) {
          const line = pending.shift();
          if (line !== undefined) return { value: line, done: false };
          if (done) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      return: (): Promise<IteratorResult<LogLine>> => {
        pending.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Ends every follower (after the lines they have not read yet) and refuses further lines. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const finish of [...this.#closeListeners]) finish();
    this.#listeners.clear();
  }
}
