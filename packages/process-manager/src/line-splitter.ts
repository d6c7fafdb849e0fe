// Turns the byte stream of an agent's stdout or stderr into lines for its log buffer.

/**
 * Splits a stream of text chunks into lines. A line longer than `maxLineChars` is cut there (the
 * rest continues as the next line), so one runaway write cannot hold unbounded memory.
 */
export class LineSplitter {
  #partial = "";
  readonly #maxLineChars: number;
  readonly #emit: (line: string) => void;

  constructor(maxLineChars: number, emit: (line: string) => void) {
    this.#maxLineChars = Math.max(1, maxLineChars);
    this.#emit = emit;
  }

  /** Feeds a chunk; emits each completed line. */
  push(chunk: string): void {
    let text = this.#partial + chunk;
    let newline = text.indexOf("\n");
    while (newline >= 0) {
      this.#emitLine(text.slice(0, newline));
      text = text.slice(newline + 1);
      newline = text.indexOf("\n");
    }
    while (text.length > this.#maxLineChars) {
      this.#emit(text.slice(0, this.#maxLineChars));
      text = text.slice(this.#maxLineChars);
    }
    this.#partial = text;
  }

  /** Emits a last line that had no newline. */
  end(): void {
    if (this.#partial.length > 0) this.#emitLine(this.#partial);
    this.#partial = "";
  }

  #emitLine(line: string): void {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    for (let at = 0; at < text.length || at === 0; at += this.#maxLineChars) {
      this.#emit(text.slice(at, at + this.#maxLineChars));
      if (text.length === 0) break;
    }
  }
}
