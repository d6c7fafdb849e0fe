// Frames written in one turn of the event loop travel together over the IPC channel: one write,
// and one wake-up of the process at the other end, for all of them. Under load a host hands an
// agent process many messages at once and the process answers many at once; one frame each would
// cost a system call and a context switch apiece. Both ends use this; it loads nothing, as the
// agent runner must not.

/** The most frames one batch carries; a fuller queue is written at once. */
export const MAX_FRAMES_PER_BATCH = 64;

/** Several frames written as one (see {@link FrameBatcher}). */
export interface FrameBatch<T> {
  readonly type: "batch";
  readonly frames: readonly T[];
}

/** Whether `raw` is a batch envelope: its frames are still to be checked one by one. */
export function isFrameBatch(raw: unknown): raw is FrameBatch<unknown> {
  return (
    typeof raw === "object" &&
    raw !== null &&
    (raw as { type?: unknown }).type === "batch" &&
    Array.isArray((raw as { frames?: unknown }).frames)
  );
}

/**
 * Holds the frames `push`ed in one turn and writes them when the turn's work is done (on the next
 * tick, after the promise jobs it started): one alone as itself, more as a {@link FrameBatch}.
 */
export class FrameBatcher<T> {
  readonly #write: (frame: T | FrameBatch<T>) => void;
  #queued: T[] = [];
  #scheduled = false;

  constructor(write: (frame: T | FrameBatch<T>) => void) {
    this.#write = write;
  }

  /** Queues `frame` for this turn's write. */
  push(frame: T): void {
    this.#queued.push(frame);
    if (this.#queued.length >= MAX_FRAMES_PER_BATCH) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  /** Writes what is queued now: before a frame that must not overtake them, or an exit. */
  flush(): void {
    const frames = this.#queued;
    if (frames.length === 0) return;
    this.#queued = [];
    const [only] = frames;
    this.#write(frames.length === 1 && only !== undefined ? only : { type: "batch", frames });
  }
}
