// The README's example must run as written: this test copies its two files out of README.md and
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

describe("README example", () => {
  it("runs and prints the greeting", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const blocks = [...readme.matchAll(/```js\n\/\/ (\S+\.mjs)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual(["greeter.mjs", "demo.mjs"]);
    await mkdir(dir, { recursive: true });
    for (const [, file, code] of blocks) await writeFile(new URL(file!, dir), code!);
    const { stdout } = await run(process.execPath, [fileURLToPath(new URL("demo.mjs", dir))], {
      timeout: 60_000,
      env: plainOutput(),
    });
    expect(stdout).toBe("{ greeting: 'Hello, Ada!' }\n");
  }, 90_000);
});
