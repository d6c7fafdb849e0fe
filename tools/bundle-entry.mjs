#!/usr/bin/env node
// Rewrites built ES modules in place as single files: each named file of a package's dist/, with
// every module of the same package it imports inlined. Dependencies (bare specifiers) and Node.js
// built-ins stay imports, so packages still share one copy of each other.
//
// Why: Node.js 20 pays about a millisecond of CPU per ES module file it loads, whatever its size.
// Every agent process loads @guildhall/core and the agent runner; as twenty-odd files each, that
// was a third of a bare Node.js start (docs/decisions/0005-agent-start-without-zod.md).
//
// Usage, from a package directory after tsc: node ../../tools/bundle-entry.mjs dist/index.js [...]
/* global process, console */
import { build } from "esbuild";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error(
    "usage: bundle-entry.mjs <dist/file.js> [...]: the built modules to bundle in place",
  );
  process.exit(2);
}

for (const file of files) {
  await build({
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    // Like tsc's output (tsconfig.lib.json): the packages ship no sources for a map to point at.
    sourcemap: false,
    logLevel: "warning",
  });
}
