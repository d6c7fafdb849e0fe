// Finds the README's runnable shell blocks: a ```sh block right after an HTML comment
// `<!-- runnable -->`, which may name text the block must print: `<!-- runnable expect="…" -->`.

/** A shell block of the README that the docs test runs. */
export interface RunnableBlock {
  /** The line of the marker, for the test's name and failures. */
  readonly line: number;
  /** The block's text, run by bash. */
  readonly script: string;
  /** Text the block's output must contain. */
  readonly expect: readonly string[];
}

const MARKER = /^<!--\s*runnable\b(.*?)-->\s*$/;

/**
 * The runnable blocks of `markdown`, in order.
 *
 * @throws Error naming the line of a marker that is not followed by a ```sh block
 */
export function runnableBlocks(markdown: string): RunnableBlock[] {
  const lines = markdown.split("\n");
  const blocks: RunnableBlock[] = [];
  lines.forEach((text, index) => {
    const marker = MARKER.exec(text.trim());
    if (marker === null) return;
    // Prettier puts a blank line between the comment and the block; nothing else may come between.
    let open = index + 1;
    while (lines[open]?.trim() === "") open++;
    const fence = lines[open]?.trim();
    if (fence !== "```sh" && fence !== "```bash") {
      throw new Error(
        `README line ${index + 1}: <!-- runnable --> must be followed by a \`\`\`sh block`,
      );
    }
    const end = lines.findIndex((line, at) => at > open && line.trim() === "```");
    if (end === -1) throw new Error(`README line ${open + 1}: the sh block is never closed`);
    const expect = [...(marker[1] ?? "").matchAll(/expect="([^"]*)"/g)].map((m) => m[1] ?? "");
    blocks.push({ line: index + 1, script: lines.slice(open + 1, end).join("\n"), expect });
  });
  return blocks;
}
