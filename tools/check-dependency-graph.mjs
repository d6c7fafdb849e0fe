#!/usr/bin/env node
// Asks nx for the project graph and fails unless package dependencies point exactly the way
// DESIGN.md section 1 allows: each package depends on the packages listed here, and may use
// only those and what they use (no edge points back up, so the graph has no cycle). Besides,
// every package but core may use @guildhall/testing in its tests, as a devDependency: testing
// uses core alone, so no such edge closes a cycle.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ALLOWED = {
  core: [],
  proto: [],
  registry: ["core"],
  "bus-redis": ["core", "registry"],
  "process-manager": ["core"],
  placement: ["registry"],
  "host-server": ["proto", "registry", "bus-redis", "process-manager"],
  engine: ["proto", "placement"],
  local: ["engine", "host-server"],
  testing: ["core"],
  cli: ["local"],
};

/** The package any other package's tests may use, but for the packages it uses itself. */
const TEST_SUPPORT = "testing";

/** The packages `from` may use: those listed for it and, transitively, what they use. */
function reachable(from, seen = new Set()) {
  for (const to of ALLOWED[from]) {
    if (!seen.has(to)) {
      seen.add(to);
      reachable(to, seen);
    }
  }
  return seen;
}

const dir = mkdtempSync(path.join(tmpdir(), "guildhall-graph-"));
try {
  const file = path.join(dir, "graph.json");
  execFileSync("npx", ["nx", "graph", `--file=${file}`], { stdio: "ignore" });
  const { graph } = JSON.parse(readFileSync(file, "utf8"));
  const problems = [];
  const name = (project) => project.replace(/^@guildhall\//, "");
  // Test suites outside packages/ (e2e/, deploy/) may use any package: they are not published.
  const isPackage = (project) => graph.nodes[project]?.data.root.startsWith("packages/") === true;
  for (const [project, edges] of Object.entries(graph.dependencies)) {
    if (!isPackage(project)) continue;
    const from = name(project);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      problems.push(`unknown project ${project}`);
      continue;
    }
    const actual = edges.map((e) => name(e.target)).filter((t) => t in ALLOWED);
    const usable = reachable(from);
    const manifest = JSON.parse(
      readFileSync(path.join(graph.nodes[project].data.root, "package.json"), "utf8"),
    );
    for (const to of actual) {
      if (to === TEST_SUPPORT && from !== to && !reachable(to).has(from)) {
        const dependency = `@guildhall/${to}`;
        const devOnly =
          manifest.devDependencies?.[dependency] !== undefined &&
          manifest.dependencies?.[dependency] === undefined &&
          manifest.peerDependencies?.[dependency] === undefined;
        if (!devOnly) problems.push(`${from} may use ${to} only in its tests, as a devDependency`);
        continue;
      }
      if (!usable.has(to)) problems.push(`${from} must not depend on ${to}`);
    }
    for (const to of allowed) {
      if (!actual.includes(to)) problems.push(`${from} should depend on ${to} directly`);
    }
  }
  for (const project of Object.keys(ALLOWED)) {
    if (!(`@guildhall/${project}` in graph.dependencies))
      problems.push(`missing project ${project}`);
  }
  if (problems.length > 0) {
    console.error(`The package graph breaks DESIGN.md section 1:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`Package graph: ${Object.keys(ALLOWED).length} packages, every edge as designed.`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
