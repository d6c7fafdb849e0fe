// The runnable blocks of the repository's README and of every package's, run as a reader would run
// them after `npm ci`: shell blocks with bash from the repository root; programs saved with their
// README's example files in a directory of their own inside the workspace (so that @guildhall/*
// resolve), TypeScript turned into JavaScript by esbuild, and run with node. Each runs in a
// process group of its own so that anything it leaves running is found.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { testRedisUrl, waitFor } from "@guildhall/testing";
import { transform } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { exampleFiles, runnableBlocks, type RunnableBlock } from "./readme-blocks.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PACKAGES = readdirSync(path.join(ROOT, "packages")).sort();
/** The documents whose runnable blocks are run, relative to the repository root. */
const DOCUMENTS = ["README.md", ...PACKAGES.map((name) => `packages/${name}/README.md`)];
/** Where programs are saved: ignored, like every dist/. */
const EXAMPLES = path.join(ROOT, "e2e/docs/dist", `readme-examples-${process.pid}`);
/** Databases a redis-server has by default: 0 to 15. */
const REDIS_DATABASES = 16;
let programs = 0;
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

/** The reader's environment: without vitest's own variables, nor what makes output colourful. */
function readerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...extra };
  delete env["FORCE_COLOR"];
  for (const name of Object.keys(env)) if (name.startsWith("VITEST")) delete env[name];
  return env;
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<BlockResult> {
  const child = spawn(command, args, {
    cwd,
    env: readerEnv(env),
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

/**
 * Saves `code` as `file` under `dir` and returns where: TypeScript as the JavaScript esbuild makes
 * of it, in a `.mjs` file of the same name.
 */
async function save(dir: string, file: string, code: string): Promise<string> {
  const typescript = /\.m?ts$/.test(file);
  const target = path.join(dir, typescript ? file.replace(/\.m?ts$/, ".mjs") : file);
  mkdirSync(path.dirname(target), { recursive: true });
  const text = typescript
    ? (await transform(code, { loader: "ts", format: "esm", target: "node20" })).code
    : code;
  writeFileSync(target, text);
  return target;
}

/** Runs a program block of `document`, after saving the document's example files beside it. */
async function runProgram(document: string, block: RunnableBlock): Promise<BlockResult> {
  const dir = path.join(EXAMPLES, path.dirname(document).replaceAll("/", "-"), `${block.line}`);
  for (const file of exampleFiles(read(document))) await save(dir, file.path, file.code);
  const program = await save(dir, block.file ?? `example.${block.language}`, block.script);
  // Examples that need Redis read GUILDHALL_REDIS_URL, as guildhall host does; each program gets
  // a database of its own, so that none sees another's hosts, agents or desired state.
  const redis = new URL(testRedisUrl());
  redis.pathname = `/${++programs % REDIS_DATABASES}`;
  return run(process.execPath, [program], dir, { GUILDHALL_REDIS_URL: redis.href });
}

const read = (document: string) => readFileSync(path.join(ROOT, document), "utf8");

afterAll(() => rmSync(EXAMPLES, { recursive: true, force: true }));

describe("README.md", () => {
  it("marks the main job, `npm run dev`, runnable", () => {
    const scripts = runnableBlocks(read("README.md")).map((b) => b.script);
    expect(scripts).toContainEqual(expect.stringMatching(/^npm run dev\b/m));
  });
});

describe("every package's README", () => {
  it.each(PACKAGES)("%s has a runnable example", (name) => {
    expect(runnableBlocks(read(`packages/${name}/README.md`))).not.toEqual([]);
  });

  // esbuild only strips types: the compiler checks them against the packages' declarations.
  it("has TypeScript example files that compile", async () => {
    const dir = path.join(EXAMPLES, "typescript");
    const files = DOCUMENTS.flatMap((document) =>
      exampleFiles(read(document))
        .filter((file) => /\.m?ts$/.test(file.path))
        .map((file) => {
          const target = path.join(dir, path.dirname(document), file.path);
          mkdirSync(path.dirname(target), { recursive: true });
          writeFileSync(target, file.code);
          return target;
        }),
    );
    expect(files).not.toEqual([]);
    const options = ["--noEmit", "--strict", "--module", "nodenext", "--target", "es2023"];
    const types = ["--types", "node", "--lib", "es2023,dom", "--skipLibCheck"];
    const tsc = path.join(ROOT, "node_modules/.bin/tsc");
    const result = await run(tsc, [...options, ...types, ...files], dir, {});
    expect(result.code, result.output).toBe(0);
  });
});

for (const document of DOCUMENTS) {
  const blocks = runnableBlocks(read(document));
  // A README without any fails the test above; vitest refuses an empty describe.
  if (blocks.length === 0) continue;
  describe(document, () => {
    for (const block of blocks) {
      const title = block.file ?? block.script.split("\n")[0] ?? "";
      it(`runs the block at line ${block.line}: ${title}`, async () => {
        const result =
          block.language === "sh"
            ? await run("bash", ["-euo", "pipefail", "-c", block.script], ROOT, {
                NX_DAEMON: "false",
                NX_NO_CLOUD: "true",
              })
            : await runProgram(document, block);
        expect(result.code, result.output).toBe(0);
        for (const text of block.expect) expect(result.output).toContain(text);
        // Processes being reaped right now get a moment; a real leak stays.
        await waitFor(() => processesInGroup(result.group).length === 0, {
          description: "the block's processes to exit",
          timeoutMs: 10_000,
        }).catch(() => undefined);
        expect(processesInGroup(result.group), "processes the block left running").toEqual([]);
      });
    }
  });
}
