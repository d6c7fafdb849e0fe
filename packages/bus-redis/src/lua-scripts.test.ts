// Every script documents its KEYS, ARGV and return value up front, and its file name states how
// many keys it takes (`-n` for a variadic count, which the header then explains); a mismatch would
// send keys as arguments or the other way round.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dir = new URL("./lua/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".lua"));

describe("Lua scripts", () => {
  it("are named <name>-<numKeys>.lua or <name>-n.lua", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(/^[a-z]+(-[a-z]+)*-(\d+|n)\.lua$/);
  });

  it.each(files)("%s opens with a comment documenting KEYS, ARGV and the return value", (file) => {
    const source = readFileSync(new URL(file, dir), "utf8");
    const count = /-(\d+|n)\.lua$/.exec(file)?.[1];
    expect(source.startsWith("--[[")).toBe(true);
    const header = source.slice(0, source.indexOf("]]"));
    const body = source.slice(source.indexOf("]]"));
    expect(header).toMatch(/Returns/);
    expect(header).toContain("KEYS[1]");
    if (count === "n") {
      expect(header).toMatch(/Variadic: /);
    } else {
      for (let i = 1; i <= Number(count); i++) expect(header).toContain(`KEYS[${i}]`);
      const used = [...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(Math.max(0, ...used)).toBe(Number(count));
    }
    for (const m of body.matchAll(/ARGV\[(\d+)\]/g)) {
      expect(header).toMatch(new RegExp(`ARGV\\[${m[1]}(\\]|\\.\\.)`));
    }
  });
});
