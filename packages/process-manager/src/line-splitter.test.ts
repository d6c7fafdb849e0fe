import { describe, expect, it } from "vitest";
import { LineSplitter } from "./line-splitter.js";

describe("LineSplitter", () => {
  it("joins chunks into lines, strips CR, flushes the tail at end", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(100, (line) => lines.push(line));
    splitter.push("hel");
    splitter.push("lo\r\nwor");
    splitter.push("ld\n\nlast");
    expect(lines).toEqual(["hello", "world", ""]);
    splitter.end();
    expect(lines).toEqual(["hello", "world", "", "last"]);
  });

  it("cuts lines longer than the limit", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(4, (line) => lines.push(line));
    splitter.push("abcdefghij");
    expect(lines).toEqual(["abcd", "efgh"]);
    splitter.push("\n0123456789\n");
    expect(lines).toEqual(["abcd", "efgh", "ij", "0123", "4567", "89"]);
  });
});
