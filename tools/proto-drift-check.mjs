#!/usr/bin/env node
// Regenerates packages/proto/src/gen from proto/ with the local protoc-gen-es and fails if the
// result differs from what is checked in: the .proto files are the source of truth.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";

const GEN = "packages/proto/src/gen";
const bin = path.resolve("node_modules/.bin");
const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` };

const generated = spawnSync("buf", ["generate"], { stdio: "inherit", env });
if (generated.status !== 0) process.exit(generated.status ?? 1);

const changes = execFileSync("git", ["status", "--porcelain", "--", GEN], { encoding: "utf8" });
if (changes.trim() !== "") {
  console.error(
    `Generated code in ${GEN} does not match proto/:\n${changes}\n` +
      "Run `npm run proto:generate` and commit the result.",
  );
  process.exit(1);
}
console.log(`${GEN} matches proto/.`);
