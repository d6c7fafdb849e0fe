import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAgentModule } from "./module-allowlist.js";

let root: string;
let allowed: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(path.join(tmpdir(), "guildhall-allowlist-unit-")));
  allowed = path.join(root, "agents");
  mkdirSync(path.join(allowed, "nested"), { recursive: true });
  mkdirSync(path.join(root, "agents-evil"));
  writeFileSync(path.join(allowed, "nested", "a.mjs"), "");
  writeFileSync(path.join(root, "agents-evil", "a.mjs"), "");
  writeFileSync(path.join(root, "single.mjs"), "");
  writeFileSync(path.join(root, "other.mjs"), "");
  symlinkSync(path.join(root, "other.mjs"), path.join(allowed, "escape.mjs"));
  symlinkSync(path.join(allowed, "nested", "a.mjs"), path.join(allowed, "inner-link.mjs"));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The error `resolveAgentModule` throws for these arguments. */
function refusal(
  specifier: string,
  agentModules: readonly string[],
): { code: string; message: string } {
  try {
    resolveAgentModule(specifier, agentModules);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error(`${specifier} was allowed by [${agentModules.join(", ")}]`);
}

describe("resolveAgentModule", () => {
  it("matches packages exactly", () => {
    expect(resolveAgentModule("@acme/agents", ["@acme/agents"])).toBe("@acme/agents");
    expect(refusal("@acme/agents/extra", ["@acme/agents"]).code).toBe("permission-denied");
    expect(refusal("@acme/agents-x", ["@acme/agents"]).code).toBe("permission-denied");
  });

  it("allows paths and file URLs inside an allowed directory, returning the real file URL", () => {
    const file = path.join(allowed, "nested", "a.mjs");
    const url = pathToFileURL(file).href;
    expect(resolveAgentModule(file, [allowed])).toBe(url);
    expect(resolveAgentModule(url, [pathToFileURL(allowed).href])).toBe(url);
    expect(resolveAgentModule(`${allowed}/./nested/../nested/a.mjs`, [`${allowed}/`])).toBe(url);
    expect(resolveAgentModule(path.join(allowed, "inner-link.mjs"), [allowed])).toBe(url);
  });

  it("does not treat a sibling with the same prefix as inside", () => {
    expect(refusal(path.join(root, "agents-evil", "a.mjs"), [allowed]).code).toBe(
      "permission-denied",
    );
  });

  it("refuses `..` and symlink escapes", () => {
    expect(refusal(`${allowed}/../other.mjs`, [allowed]).code).toBe("permission-denied");
    const escape = refusal(path.join(allowed, "escape.mjs"), [allowed]);
    expect(escape.code).toBe("permission-denied");
    expect(escape.message).toMatch(/resolves to .*other\.mjs/);
  });

  it("allows a single listed file and nothing next to it", () => {
    const single = path.join(root, "single.mjs");
    expect(resolveAgentModule(single, [single])).toBe(pathToFileURL(single).href);
    expect(refusal(path.join(root, "other.mjs"), [single]).code).toBe("permission-denied");
  });

  it("refuses relative paths and other URL schemes", () => {
    expect(refusal("./agents/a.mjs", ["./agents"]).message).toMatch(/relative paths/);
    expect(refusal("data:text/javascript,1", ["data:text/javascript,1"]).code).toBe(
      "permission-denied",
    );
    expect(refusal("node:fs", ["node:fs"]).code).toBe("permission-denied");
  });

  it("says not-found for a missing file inside an allowed directory, denied outside", () => {
    expect(refusal(path.join(allowed, "none.mjs"), [allowed]).code).toBe("not-found");
    expect(refusal(path.join(root, "none.mjs"), [allowed]).code).toBe("permission-denied");
  });

  it("refuses everything with an empty allowlist", () => {
    expect(refusal("@acme/agents", []).message).toMatch(/agentModules: \(empty\)/);
  });
});
