#!/usr/bin/env node
// The project's whole check, as CI and the README run it: formatting, the wire protocol (buf lint
// and generation drift), the package graph, then lint, typecheck and tests of every package through
// nx, the READMEs' runnable blocks, and last what npm would publish: each package's contents, and
// each installed alone and used. Stops at the first failing step and exits with its code.
import { spawnSync } from "node:child_process";

process.env.NX_NO_CLOUD ??= "true";
process.env.NX_DAEMON ??= "false";

/** lint, typecheck and test through nx, for the projects `selection` picks. */
const nxChecks = (...selection) => [
  "nx",
  "run-many",
  "-t",
  "lint",
  "typecheck",
  "test",
  ...selection,
  "--outputStyle=stream",
];

const steps = [
  ["format", "npx", ["prettier", "--check", "."]],
  ["proto lint", "npx", ["buf", "lint"]],
  ["proto drift", "node", ["tools/proto-drift-check.mjs"]],
  ["package graph", "node", ["tools/check-dependency-graph.mjs"]],
  ["lint, typecheck, test", "npx", nxChecks("--exclude=e2e-docs,e2e-faults")],
  // Alone: the fault scenarios time recoveries and message waits against bounds, and share two
  // cores only with their own clusters, not with other packages' suites and compilers.
  ["fault suite", "npx", nxChecks("-p", "e2e-faults")],
  // One at a time, after it: the scale scenarios saturate both cores for tens of seconds, and the
  // rolling update bounds message waits that neighbours' forks would stretch.
  ["scenarios run alone", "npx", ["nx", "run", "e2e-faults:test-alone", "--outputStyle=stream"]],
  // Last and alone: the README's commands build with nx themselves, and nx may rewrite packages'
  // dist/ while doing so, which other tasks running beside them would read half-written.
  ["README commands", "npx", nxChecks("-p", "e2e-docs")],
  ["package contents", "node", ["tools/check-pack.mjs"]],
  ["package installs", "node", ["tools/check-install.mjs"]],
];

for (const [name, command, args] of steps) {
  const started = Date.now();
  console.log(`\n▶ ${name}: ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { stdio: "inherit" });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`✖ ${name} failed after ${seconds} s (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  console.log(`✔ ${name} (${seconds} s)`);
}
