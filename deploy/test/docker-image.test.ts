// The host image, checked without a Docker engine: the Dockerfile's stages, what the final stage
// runs and as whom, that everything it copies exists, and what the build context leaves out.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  copyArguments,
  execForm,
  instructionArgs,
  parseDockerfile,
  parseInstructions,
  stageEnv,
  type Stage,
} from "./dockerfile.js";
import { isIgnored, parseDockerignore } from "./dockerignore.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const stages = parseDockerfile(readFileSync(path.join(ROOT, "deploy/docker/Dockerfile"), "utf8"));
const ignored = parseDockerignore(readFileSync(path.join(ROOT, ".dockerignore"), "utf8"));
const runtime = stages.at(-1) as Stage;

/** The last WORKDIR of `stage` (the directory relative paths and the entrypoint resolve in). */
function workdir(stage: Stage): string {
  return instructionArgs(stage, "WORKDIR").at(-1) ?? "/";
}

describe("deploy/docker/Dockerfile", () => {
  it("builds in a stage of its own and runs in a slim one from the same Node.js", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((stage) => stage.name)).toEqual(["build", "runtime"]);
    const [build] = stages;
    expect(build?.from).toBe(runtime.from);
    // The Node.js of the image satisfies the engines of the workspace (>=20.19).
    const [, major = 0, minor = 0] = (/^node:(\d+)\.(\d+)/.exec(runtime.from) ?? []).map(Number);
    const engines = (
      JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
        engines: { node: string };
      }
    ).engines.node;
    const [, wantMajor = 0, wantMinor = 0] = (/>=(\d+)\.(\d+)/.exec(engines) ?? []).map(Number);
    expect(major).toBe(wantMajor);
    expect(minor).toBeGreaterThanOrEqual(wantMinor);
  });

  it("installs with the lock file, builds the CLI with nx and prunes development dependencies", () => {
    const [build] = stages;
    const runs = build === undefined ? [] : instructionArgs(build, "RUN").join("\n");
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/nx run @guildhall\/cli:build/);
    expect(runs).toMatch(/npm prune --omit=dev/);
    // The runtime stage runs nothing that installs or builds.
    expect(instructionArgs(runtime, "RUN").join("\n")).not.toMatch(/npm (ci|install)|nx /);
  });

  it("runs as a non-root user given by number", () => {
    const user = instructionArgs(runtime, "USER").at(-1);
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = (user ?? "").split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    if (gid !== undefined) expect(gid).toBeGreaterThan(0);
    // Nothing after USER switches back.
    const last = runtime.instructions.findLastIndex((i) => i.keyword === "USER");
    expect(runtime.instructions.slice(last + 1).map((i) => i.keyword)).not.toContain("RUN");
  });

  it("starts `guildhall host` from the CLI package's bin", () => {
    const entrypoint = runtime.instructions.findLast((i) => i.keyword === "ENTRYPOINT");
    expect(entrypoint).toBeDefined();
    const command = execForm(entrypoint ?? { keyword: "", args: "", line: 0 });
    const cli = JSON.parse(readFileSync(path.join(ROOT, "packages/cli/package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    const bin = cli.bin["guildhall"];
    expect(bin).toBeDefined();
    expect(command).toEqual([
      "node",
      path.posix.join(workdir(runtime), "packages/cli", bin ?? ""),
      "host",
    ]);
    expect(runtime.instructions.some((i) => i.keyword === "CMD")).toBe(false);
  });

  it("allowlists the agents directory it creates", () => {
    const env = stageEnv(runtime);
    const agents = env.get("GUILDHALL_AGENT_MODULES");
    expect(agents).toBeDefined();
    expect(path.posix.isAbsolute(agents ?? "")).toBe(true);
    expect(instructionArgs(runtime, "RUN").join("\n")).toContain(`mkdir -p ${agents}`);
    expect(env.get("NODE_ENV")).toBe("production");
  });

  it("exposes the agent host API and the metrics ports", () => {
    expect(instructionArgs(runtime, "EXPOSE").flatMap((args) => args.split(/\s+/))).toEqual([
      "50051",
      "9464",
    ]);
  });

  it("copies only what exists in the build context or an earlier stage", () => {
    let checked = 0;
    for (const [index, stage] of stages.entries()) {
      for (const instruction of stage.instructions) {
        if (instruction.keyword === "ADD") throw new Error(`line ${instruction.line}: use COPY`);
        if (instruction.keyword !== "COPY") continue;
        const { flags, sources } = copyArguments(instruction);
        const from = flags.get("from");
        for (const source of sources) {
          checked++;
          if (from === undefined) {
            expect(existsSync(path.join(ROOT, source)), `${source} exists`).toBe(true);
            const relative = path.posix.normalize(source).replace(/^\.\/?$/, "");
            if (relative !== "") expect(isIgnored(relative, ignored), source).toBe(false);
            continue;
          }
          const earlier = stages.slice(0, index).find((s) => s.name === from);
          expect(earlier, `stage ${from} before line ${instruction.line}`).toBeDefined();
          // A path an earlier stage made: its top directory appears in that stage's commands.
          const top = `/${source.split("/").filter(Boolean)[0] ?? ""}`;
          const made = earlier === undefined ? "" : instructionArgs(earlier, "RUN").join("\n");
          expect(made, `${source} is made by stage ${from}`).toMatch(
            new RegExp(`mkdir -p ${top}(/|\\s)`),
          );
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it("is the base of the README's custom image, whose agents land in the allowlisted directory", () => {
    const readme = readFileSync(path.join(ROOT, "deploy/README.md"), "utf8");
    const example = /```dockerfile\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const custom = parseDockerfile(example ?? "");
    const final = custom.at(-1);
    // The image the manifests run, before an overlay renames it.
    expect(final?.from).toMatch(/^guildhall\/host:/);
    expect(
      readFileSync(path.join(ROOT, "deploy/kustomize/base/deployment.yaml"), "utf8"),
    ).toContain(`image: ${final?.from}`);
    const copies = (final?.instructions ?? []).filter((i) => i.keyword === "COPY");
    expect(copies.length).toBeGreaterThan(0);
    const agents = stageEnv(runtime).get("GUILDHALL_AGENT_MODULES") ?? "";
    for (const copy of copies) {
      const { flags, destination } = copyArguments(copy);
      expect(custom.some((stage) => stage.name === flags.get("from"))).toBe(true);
      expect(destination.startsWith(`${agents}/`), destination).toBe(true);
    }
  });

  it("refuses instructions it does not know, and a FROM it cannot read", () => {
    expect(() => parseInstructions("FROM node:20\nRUNN true\n")).toThrow(
      /line 2: unknown instruction RUNN/,
    );
    expect(() => parseDockerfile("FROM node:20 AS\n")).toThrow(/FROM must be/);
  });
});

describe(".dockerignore", () => {
  it("leaves dependencies, build outputs and nx caches out of the context", () => {
    for (const file of [
      "node_modules/yaml/package.json",
      "packages/cli/node_modules/ora/index.js",
      "packages/cli/dist/bin.js",
      "packages/registry/dist/lua/heartbeat-2.lua",
      ".nx/workspace-data/file-map.json",
      ".git/HEAD",
    ]) {
      expect(isIgnored(file, ignored), file).toBe(true);
    }
  });

  it("keeps everything the build stage needs", () => {
    for (const file of [
      "package.json",
      "package-lock.json",
      "nx.json",
      "tsconfig.base.json",
      "packages/cli/package.json",
      "packages/cli/src/bin.ts",
      "packages/cli/bin/guildhall.js",
      "packages/cli/tsconfig.lib.json",
      "packages/registry/src/index.ts",
      "tools/copy-files.mjs",
    ]) {
      expect(existsSync(path.join(ROOT, file)), file).toBe(true);
      expect(isIgnored(file, ignored), file).toBe(false);
    }
  });

  it("keeps the scripts the packages' builds run", () => {
    let scripts = 0;
    for (const dir of readdirSync(path.join(ROOT, "packages"))) {
      const manifest = path.join(ROOT, "packages", dir, "package.json");
      if (!existsSync(manifest)) continue;
      const { scripts: run = {} } = JSON.parse(readFileSync(manifest, "utf8")) as {
        scripts?: Record<string, string>;
      };
      for (const [, script = ""] of (run["build"] ?? "").matchAll(/\bnode (\S+)/g)) {
        const file = path.relative(ROOT, path.join(ROOT, "packages", dir, script));
        expect(existsSync(path.join(ROOT, file)), file).toBe(true);
        expect(isIgnored(file.split(path.sep).join("/"), ignored), file).toBe(false);
        scripts++;
      }
    }
    expect(scripts).toBeGreaterThan(0);
  });

  it("matches like BuildKit: ** spans directories, a later ! takes a path back", () => {
    expect(isIgnored("a/b/node_modules/x", ["**/node_modules"])).toBe(true);
    expect(isIgnored("node_modules", ["**/node_modules"])).toBe(true);
    expect(isIgnored("src/node_modules_x", ["**/node_modules"])).toBe(false);
    expect(isIgnored("docs/a.md", ["docs", "!docs/a.md"])).toBe(false);
    expect(isIgnored("x.log", ["*.log"])).toBe(true);
    expect(isIgnored("a/x.log", ["*.log"])).toBe(false);
  });
});
