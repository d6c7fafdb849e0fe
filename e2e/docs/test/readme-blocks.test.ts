import { describe, expect, it } from "vitest";
import { runnableBlocks } from "./readme-blocks.js";

describe("runnableBlocks", () => {
  it("takes only marked sh blocks, with what they must print", () => {
    const markdown = [
      "```sh",
      "npm ci",
      "```",
      '<!-- runnable expect="hello" expect="bye" -->',
      "```sh",
      "echo hello",
      "echo bye",
      "```",
      "<!-- runnable -->",
      "",
      "```bash",
      "true",
      "```",
    ].join("\n");
    expect(runnableBlocks(markdown)).toEqual([
      { line: 4, script: "echo hello\necho bye", expect: ["hello", "bye"] },
      { line: 9, script: "true", expect: [] },
    ]);
  });

  it("names the line of a marker without a block", () => {
    expect(() => runnableBlocks("text\n<!-- runnable -->\nRun this:\n```sh\ntrue\n```")).toThrow(
      "README line 2",
    );
  });
});
