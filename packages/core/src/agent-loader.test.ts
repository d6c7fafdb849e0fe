import { describe, expect, it } from "vitest";
import { parseClassName } from "./agent-loader.js";

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
