#!/usr/bin/env node
// Installs every package as a user would and uses it: packs each one, installs its tarball alone
// in an empty project outside the workspace (the @guildhall packages it needs from their own
// tarballs, since they may not be published yet; everything else from the registry), imports it
// with Node.js, compiles an import of it with the workspace's TypeScript under `module: nodenext`,
// and lints the tarball with publint. The CLI's project also runs `npx guildhall --version`.
// Run after a build (`npm run build`); the tarballs are what `npm publish` would upload.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { publint } from "publint";
import { formatMessage } from "publint/utils";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const TSC = path.join(ROOT, "node_modules/.bin/tsc");
/** Installs at once: each is mostly waiting on npm, and the machine is shared. */
const CONCURRENCY = 2;
const WORKSPACE_DEV = JSON.parse(
  readFileSync(path.join(ROOT, "package.json"), "utf8"),
).devDependencies;
// A user's project brings its own Node.js types, and those of ws that @kubernetes/client-node's
// declarations use without depending on them; these are the ones the workspace builds with.
const TYPES = Object.fromEntries(["@types/node", "@types/ws"].map((t) => [t, WORKSPACE_DEV[t]]));

/** Runs a command in `cwd` and returns its stdout; fails with everything it printed. */
async function sh(cwd, command, args) {
  try {
    const { stdout } = await run(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${error.stdout ?? ""}${error.stderr ?? error.message}`,
    );
  }
}

/** Packs every package into `dir`: package name → tarball path. */
async function packAll(dir) {
  const tarballs = new Map();
  for (const name of readdirSync(path.join(ROOT, "packages"))) {
    const out = await sh(path.join(ROOT, "packages", name), "npm", [
      "pack",
      "--json",
      "--ignore-scripts",
      "--pack-destination",
      dir,
    ]);
    const [packed] = JSON.parse(out);
    tarballs.set(packed.name, path.join(dir, packed.filename));
  }
  return tarballs;
}

/** Installs `name` alone in a new project under `base` and checks that it works; throws if not. */
async function check(name, tarballs, base) {
  const project = path.join(base, name.replace(/^@guildhall\//, ""));
  mkdirSync(project);
  // npm refuses an override of a direct dependency that differs from it, and needs none.
  const overrides = Object.fromEntries(
    [...tarballs]
      .filter(([other]) => other !== name)
      .map(([other, file]) => [other, `file:${file}`]),
  );
  const manifest = {
    name: "install-check",
    private: true,
    type: "module",
    dependencies: { [name]: `file:${tarballs.get(name)}` },
    devDependencies: TYPES,
    overrides,
  };
  writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest, null, 2));
  await sh(project, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"]);

  const exports = await sh(project, process.execPath, [
    "--input-type=module",
    "-e",
    `console.log(Object.keys(await import(${JSON.stringify(name)})).length)`,
  ]);
  if (Number(exports) === 0) throw new Error(`import("${name}") has no exports`);

  writeFileSync(
    path.join(project, "check.ts"),
    `import * as checked from ${JSON.stringify(name)};\nexport const names: string[] = Object.keys(checked);\n`,
  );
  writeFileSync(
    path.join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2023",
        // Connect's declarations use the fetch API's types, as the workspace's do.
        lib: ["es2023", "dom"],
        types: ["node"],
        strict: true,
        noEmit: true,
        // What is checked is the packages' declarations (skipLibCheck stays off), not TypeScript's.
        skipDefaultLibCheck: true,
      },
      files: ["check.ts"],
    }),
  );
  await sh(project, TSC, ["-p", "tsconfig.json"]);

  const { messages, pkg } = await publint({
    pack: { tarball: new Uint8Array(readFileSync(tarballs.get(name))).buffer },
    strict: true,
  });
  if (messages.length > 0) {
    throw new Error(`publint:\n  ${messages.map((m) => formatMessage(m, pkg)).join("\n  ")}`);
  }

  if (name === "@guildhall/cli") {
    const version = (await sh(project, "npx", ["--no-install", "guildhall", "--version"])).trim();
    const expected = JSON.parse(readFileSync(path.join(ROOT, "packages/cli/package.json"), "utf8"));
    if (version !== expected.version) {
      throw new Error(`guildhall --version printed "${version}", not ${expected.version}`);
    }
  }
  return `${Number(exports)} exports imported, types compiled, publint clean`;
}

const base = mkdtempSync(path.join(tmpdir(), "guildhall-install-check-"));
let failed = 0;
try {
  const tarballDir = path.join(base, "tarballs");
  mkdirSync(tarballDir);
  const tarballs = await packAll(tarballDir);
  const queue = [...tarballs.keys()];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const started = Date.now();
      try {
        const summary = await check(name, tarballs, base);
        console.log(`${name}: ${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        failed++;
        console.error(`${name}: ${error.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
} finally {
  rmSync(base, { recursive: true, force: true });
}
process.exit(failed > 0 ? 1 : 0);
