#!/usr/bin/env node
// The `guildhall` executable as npm links it. It lives outside dist/ so that the link exists from
// the moment the package is installed, including in a fresh clone of the workspace before the
// first build; in a published package dist/ is always there.
/* global process, console, URL */
const program = new URL("../dist/bin.js", import.meta.url);
try {
  await import(program.href);
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && error.url === program.href) {
    console.error(
      "guildhall is not built yet: run `npx nx run @guildhall/cli:build` (or `npm run build`) first",
    );
    process.exit(2);
  }
  throw error;
}
