// The runnable shell blocks of the READMEs a new user reads first, run as a reader would run them
// after `npm ci`: from the repository root, with bash, each in a process group of its own so that
// anything it leaves running is found.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../tools/test-support/wait-for.js";
import { runnableBlocks } from "./readme-blocks.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The documents whose runnable blocks are run, relative to the repository root. */
const DOCUMENTS = ["README.md", "packages/cli/README.md"];
// A bound for a hang, not a speed check: the first block builds what the README needs with nx.
const BLOCK_DEADLINE_MS = 300_000;

interface BlockResult {
  readonly code: number | null;
  readonly output: string;
  readonly group: number;
}

/** Live processes of process group `group`, read from /proc. */
function processesInGroup(group: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === group && fields[0] !== "Z") found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function runBlock(script: string): Promise<BlockResult> {
  const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
    cwd: ROOT,
    env: { ...process.env, NX_DAEMON: "false", NX_NO_CLOUD: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-(child.pid ?? 0), "SIGKILL");
      reject(new Error(`still running after ${BLOCK_DEADLINE_MS} ms:\n${output}`));
    }, BLOCK_DEADLINE_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, group: child.pid ?? 0 });
    });
  });
}

const read = (document: string) => readFileSync(path.join(ROOT, document), "utf8");

describe("README.md", () => {
  it("marks the main job, `npm run dev`, runnable", () => {
    const scripts = runnableBlocks(read("README.md")).map((b) => b.script);
    expect(scripts).toContainEqual(expect.stringMatching(/^npm run dev\b/m));
  });
});

for (const document of DOCUMENTS) {
  describe(document, () => {
    for (const block of runnableBlocks(read(document))) {
      const title = block.script.split("\n")[0] ?? "";
      it(`runs the block at line ${block.line}: ${title}`, async () => {
        const result = await runBlock(block.script);
        expect(result.code, result.output).toBe(0);
        for (const text of block.expect) expect(result.output).toContain(text);
        // Processes being reaped right now get a moment; a real leak stays.
        await waitFor(
          "the block's processes to exit",
          () => processesInGroup(result.group).length === 0,
          10_000,
        ).catch(() => undefined);
        expect(processesInGroup(result.group), "processes the block left running").toEqual([]);
      });
    }
  });
}
