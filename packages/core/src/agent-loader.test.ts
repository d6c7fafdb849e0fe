import { describe, expect, it } from "vitest";
import { assertAgentModuleAllowed, parseClassName } from "./agent-loader.js";
import { GuildhallError } from "./errors.js";

describe("parseClassName", () => {
  it.each([
    ["@acme/agents#Echo", "@acme/agents", "Echo"],
    ["acme/sub/path#$Echo_2", "acme/sub/path", "$Echo_2"],
    ["/srv/agents/index.js#Echo", "/srv/agents/index.js", "Echo"],
    ["file:///srv/agents/index.js#Echo", "file:///srv/agents/index.js", "Echo"],
  ])("splits %j", (className, module, exportName) => {
    expect(parseClassName(className)).toEqual({ module, exportName });
  });

  it.each(["Echo", "#Echo", "mod#", "mod#Not-Valid", "a#b#C", " mod#Echo"])(
    "refuses %j, saying what the shape is",
    (className) => {
      expect(() => parseClassName(className)).toThrow(/must be "<module>#<ExportName>"/);
    },
  );

  it("refuses relative paths", () => {
    expect(() => parseClassName("./agents.js#Echo")).toThrow(
      /names the relative path "\.\/agents\.js": use a package name, an absolute path or a file URL/,
    );
  });
});

describe("assertAgentModuleAllowed", () => {
  it("allows everything without an allowlist", () => {
    expect(assertAgentModuleAllowed("anything#Agent", undefined).module).toBe("anything");
  });

  it("compares paths and file URLs by the file they name", () => {
    const allowed = ["/srv/agents/index.js", "@acme/agents"];
    expect(() => assertAgentModuleAllowed("file:///srv/agents/index.js#A", allowed)).not.toThrow();
    expect(() =>
      assertAgentModuleAllowed("/srv/agents/../agents/index.js#A", allowed),
    ).not.toThrow();
    expect(() => assertAgentModuleAllowed("@acme/agents#A", allowed)).not.toThrow();
    expect(() =>
      assertAgentModuleAllowed("/srv/agents/index.js#A", ["file:///srv/agents/index.js"]),
    ).not.toThrow();
  });

  it("refuses other modules with permission-denied, naming what is allowed", () => {
    let error: unknown;
    try {
      assertAgentModuleAllowed("@evil/agents#A", ["@acme/agents"]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuildhallError);
    expect(error).toMatchObject({
      code: "permission-denied",
      message:
        'module "@evil/agents" of className "@evil/agents#A" is not an allowed agent module; add it to agentModules (allowed: @acme/agents)',
    });
    expect(() => assertAgentModuleAllowed("@acme/agents/sub#A", ["@acme/agents"])).toThrow(
      GuildhallError,
    );
    expect(() => assertAgentModuleAllowed("x#A", [])).toThrow(/allowed: none/);
  });
});
