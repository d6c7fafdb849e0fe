// The README's examples must run as written: this test copies their files out of README.md and
// runs them with node, as a reader would.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
// Inside the package, so that "@guildhall/core" resolves to it; dist/ is built and ignored.
const dir = new URL(`../dist/readme-example-${process.pid}/`, import.meta.url);

/** The environment without what makes console.log colour its output (vitest sets FORCE_COLOR). */
function plainOutput(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  return env;
}

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs one of the README's files with node and returns what it printed. */
async function runExample(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [fileURLToPath(new URL(file, dir))], {
    timeout: 60_000,
    env: plainOutput(),
  });
  return stdout;
}

describe("README examples", () => {
  it("run as written: the greeting, and a counter that keeps its count through a crash", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const blocks = [...readme.matchAll(/```js\n\/\/ (\S+\.mjs)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      "greeter.mjs",
      "demo.mjs",
      "counter.mjs",
      "count.mjs",
    ]);
    await mkdir(dir, { recursive: true });
    for (const [, file, code] of blocks) await writeFile(new URL(file!, dir), code!);
    expect(await runExample("demo.mjs")).toBe("{ greeting: 'Hello, Ada!' }\n");
    expect(await runExample("count.mjs")).toBe("[ 2, 5, 10 ]\n");
  }, 90_000);
});
