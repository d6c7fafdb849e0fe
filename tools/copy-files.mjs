#!/usr/bin/env node
// Copies the files under one folder whose names end with given extensions into another folder,
// keeping their relative paths: what tsc does not emit but a package must ship (Lua scripts).
// Usage: node tools/copy-files.mjs <from> <to> <.ext> [<.ext>…]
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";

const [from, to, ...extensions] = process.argv.slice(2);
if (from === undefined || to === undefined || extensions.length === 0) {
  console.error("usage: node tools/copy-files.mjs <from> <to> <.ext> [<.ext>…]");
  process.exit(2);
}

let copied = 0;
for (const entry of readdirSync(from, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !extensions.some((ext) => entry.name.endsWith(ext))) continue;
  const source = path.join(entry.parentPath, entry.name);
  const target = path.join(to, path.relative(from, source));
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(source, target);
  copied++;
}
console.log(`copied ${copied} ${extensions.join(", ")} file(s) from ${from} to ${to}`);
