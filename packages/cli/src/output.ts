// How commands print: tables and colours for people, JSON for programs (`--json`), one line per
// event when stdout is not a terminal so that logs and tests can read it.
import Table from "cli-table3";
import pc from "picocolors";

/** Whether stdout is a terminal a live view may redraw. */
export function isInteractive(): boolean {
  return process.stdout.isTTY === true && process.env["TERM"] !== "dumb";
}

/** Prints `value` as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A table of `rows` under `head`, as text. */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: head.map((title) => pc.bold(title)),
    style: { head: [], border: [] },
  });
  table.push(...rows.map((row) => [...row]));
  return table.toString();
}

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** An agent or host state, coloured by how healthy it is. */
export function colorState(state: string): string {
  if (state === "ready" || state === "serving") return pc.green(state);
  if (state === "crashed" || state === "exited" || state === "unreachable") return pc.red(state);
  return pc.yellow(state);
}

/** Milliseconds as a short duration: `15s`, `500ms`, `2m`. */
export function formatMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0 && ms >= 1_000) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
