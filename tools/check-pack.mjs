#!/usr/bin/env node
// Packs every package (dry run) and fails if a tarball would hold anything but package.json,
// README.md, CHANGELOG.md, LICENSE (the repository's own), built files under dist/ (JavaScript,
// declarations, and the Lua scripts the registry loads at run time) and executables under bin/:
// no sources, tests, maps or configuration leak, and no built file points at a map.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const REQUIRED = [
  "package.json",
  "README.md",
  "CHANGELOG.md",
  "LICENSE",
  "dist/index.js",
  "dist/index.d.ts",
];
const allowed = (file) =>
  REQUIRED.includes(file) ||
  /^dist\/.+\.(js|d\.ts|lua)$/.test(file) ||
  /^bin\/[^/]+\.js$/.test(file);

const license = readFileSync("LICENSE", "utf8");
let failed = false;
for (const dir of readdirSync("packages")) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: `packages/${dir}`,
    encoding: "utf8",
  });
  const files = JSON.parse(out)[0].files.map((f) => f.path);
  const read = (file) => readFileSync(`packages/${dir}/${file}`, "utf8");
  const problems = [];
  const extra = files.filter((f) => !allowed(f));
  if (extra.length > 0) problems.push(`unexpected ${JSON.stringify(extra)}`);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  if (missing.length > 0) problems.push(`missing ${JSON.stringify(missing)}`);
  if (files.includes("LICENSE") && read("LICENSE") !== license) {
    problems.push("LICENSE differs from the repository's");
  }
  // tsc and esbuild emit no maps for the packages (tsconfig.lib.json): a reference to one is a
  // file left from an older build, or a build setting that came back.
  const mapped = files.filter((f) => f.endsWith(".js") && read(f).includes("//# sourceMappingURL"));
  if (mapped.length > 0) problems.push(`pointing at source maps ${JSON.stringify(mapped)}`);
  if (problems.length > 0) {
    failed = true;
    console.error(`@guildhall/${dir}: ${problems.join("; ")}`);
  } else {
    console.log(`@guildhall/${dir}: ${files.length} files, all expected`);
  }
}
process.exit(failed ? 1 : 0);
