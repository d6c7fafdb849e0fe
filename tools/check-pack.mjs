#!/usr/bin/env node
// Packs every package (dry run) and fails if a tarball would hold anything but package.json,
// README.md, built files under dist/ (JavaScript, declarations, and the Lua scripts the registry
// loads at run time) and executables under bin/: no sources, tests, maps or configuration leak.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";

const allowed = (file) =>
  file === "package.json" ||
  file === "README.md" ||
  /^dist\/.+\.(js|d\.ts|lua)$/.test(file) ||
  /^bin\/[^/]+\.js$/.test(file);

let failed = false;
for (const dir of readdirSync("packages")) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: `packages/${dir}`,
    encoding: "utf8",
  });
  const files = JSON.parse(out)[0].files.map((f) => f.path);
  const extra = files.filter((f) => !allowed(f));
  const missing = ["package.json", "README.md", "dist/index.js", "dist/index.d.ts"].filter(
    (f) => !files.includes(f),
  );
  if (extra.length > 0 || missing.length > 0) {
    failed = true;
    console.error(
      `@guildhall/${dir}: unexpected ${JSON.stringify(extra)}, missing ${JSON.stringify(missing)}`,
    );
  } else {
    console.log(`@guildhall/${dir}: ${files.length} files, all expected`);
  }
}
process.exit(failed ? 1 : 0);
