// Finds a README's runnable blocks: a fenced block right after an HTML comment `<!-- runnable -->`,
// which may name text the block must print: `<!-- runnable expect="…" -->`. A ```sh block is a
// shell script; a ```js or ```ts block is a program, which may use the README's example files:
// its js and ts blocks whose first line names them (`// agents/greeter.mjs`).

/** A block of a README that the docs test runs. */
export interface RunnableBlock {
  /** The line of the marker, for the test's name and failures. */
  readonly line: number;
  /** `sh`: run by bash from the repository root; `js`, `ts`: a program, run with Node.js. */
  readonly language: "sh" | "js" | "ts";
  /** The block's text. */
  readonly script: string;
  /** Where a program is saved among the example files: the path its first line names, if any. */
  readonly file: string | undefined;
  /** Text the block's output must contain. */
  readonly expect: readonly string[];
}

/** A file of a README's examples: a js or ts block whose first line is a comment naming it. */
export interface ExampleFile {
  /** Its path relative to the example's directory, such as `agents/greeter.mjs`. */
  readonly path: string;
  readonly code: string;
}

interface FencedBlock {
  /** Index of the opening fence's line. */
  readonly open: number;
  readonly language: string;
  readonly text: string;
}

const MARKER = /^<!--\s*runnable\b(.*?)-->\s*$/;
const FENCE = /^```(\w*)\s*$/;
const FILE_NAME = /^\/\/ ((?:[\w-]+\/)*[\w.-]+\.(?:js|mjs|ts|mts))$/;
const LANGUAGES: Readonly<Record<string, RunnableBlock["language"]>> = {
  sh: "sh",
  bash: "sh",
  js: "js",
  ts: "ts",
};

/** Every fenced block of `lines`, in order; throws naming the line of one that is never closed. */
function fencedBlocks(lines: readonly string[]): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  for (let open = 0; open < lines.length; open++) {
    const fence = FENCE.exec(lines[open]?.trim() ?? "");
    if (fence === null) continue;
    const end = lines.findIndex((line, at) => at > open && line.trim() === "```");
    if (end === -1) throw new Error(`README line ${open + 1}: the block is never closed`);
    blocks.push({ open, language: fence[1] ?? "", text: lines.slice(open + 1, end).join("\n") });
    open = end;
  }
  return blocks;
}

/** The path a js or ts block's first line names, if it names one. */
function fileName(block: FencedBlock): string | undefined {
  if (block.language !== "js" && block.language !== "ts") return undefined;
  return FILE_NAME.exec(block.text.split("\n", 1)[0] ?? "")?.[1];
}

/**
 * The runnable blocks of `markdown`, in order.
 *
 * @throws Error naming the line of a marker that is not followed by a sh, js or ts block
 */
export function runnableBlocks(markdown: string): RunnableBlock[] {
  const lines = markdown.split("\n");
  const blocks = fencedBlocks(lines);
  const runnable: RunnableBlock[] = [];
  lines.forEach((text, index) => {
    const marker = MARKER.exec(text.trim());
    if (marker === null) return;
    // Prettier puts a blank line between the comment and the block; nothing else may come between.
    let open = index + 1;
    while (lines[open]?.trim() === "") open++;
    const block = blocks.find((b) => b.open === open);
    const language = LANGUAGES[block?.language ?? ""];
    if (block === undefined || language === undefined) {
      throw new Error(
        `README line ${index + 1}: <!-- runnable --> must be followed by a sh, js or ts block`,
      );
    }
    const expect = [...(marker[1] ?? "").matchAll(/expect="([^"]*)"/g)].map((m) => m[1] ?? "");
    runnable.push({ line: index + 1, language, script: block.text, file: fileName(block), expect });
  });
  return runnable;
}

/** The example files of `markdown`: its js and ts blocks whose first line names them. */
export function exampleFiles(markdown: string): ExampleFile[] {
  return fencedBlocks(markdown.split("\n")).flatMap((block) => {
    const path = fileName(block);
    return path === undefined ? [] : [{ path, code: block.text }];
  });
}
