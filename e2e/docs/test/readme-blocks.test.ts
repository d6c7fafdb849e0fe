import { describe, expect, it } from "vitest";
import { exampleFiles, runnableBlocks } from "./readme-blocks.js";

describe("runnableBlocks", () => {
  it("takes only marked sh, js and ts blocks, with what they must print", () => {
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
      '<!-- runnable expect="42" -->',
      "```js",
      "// answer.mjs",
      "console.log(42);",
      "```",
      "<!-- runnable -->",
      "```ts",
      "const answer: number = 42;",
      "```",
    ].join("\n");
    expect(runnableBlocks(markdown)).toEqual([
      {
        line: 4,
        language: "sh",
        script: "echo hello\necho bye",
        file: undefined,
        expect: ["hello", "bye"],
      },
      { line: 9, language: "sh", script: "true", file: undefined, expect: [] },
      {
        line: 14,
        language: "js",
        script: "// answer.mjs\nconsole.log(42);",
        file: "answer.mjs",
        expect: ["42"],
      },
      {
        line: 19,
        language: "ts",
        script: "const answer: number = 42;",
        file: undefined,
        expect: [],
      },
    ]);
  });

  it("names the line of a marker without a block", () => {
    expect(() => runnableBlocks("text\n<!-- runnable -->\nRun this:\n```sh\ntrue\n```")).toThrow(
      "README line 2",
    );
  });

  it("names the line of a marker before a block of another language", () => {
    expect(() => runnableBlocks("<!-- runnable -->\n```json\n{}\n```")).toThrow("README line 1");
  });
});

describe("exampleFiles", () => {
  it("takes the js and ts blocks whose first line names a file", () => {
    const markdown = [
      "```js",
      "// agents/greeter.mjs",
      "export class Greeter {}",
      "```",
      "```ts",
      "// main.mts",
      'import "./agents/greeter.mjs";',
      "```",
      "```js",
      "console.log('no name');",
      "```",
      "```sh",
      "// not.mjs",
      "```",
    ].join("\n");
    expect(exampleFiles(markdown)).toEqual([
      { path: "agents/greeter.mjs", code: "// agents/greeter.mjs\nexport class Greeter {}" },
      { path: "main.mts", code: '// main.mts\nimport "./agents/greeter.mjs";' },
    ]);
  });
});
