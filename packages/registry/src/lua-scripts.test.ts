// Every script documents its KEYS, ARGV and return value up front, and its file name states how
// many keys it takes; a mismatch would send keys as arguments or the other way round. Includes
// (lua/includes/) document the function they define, and load into every script that names them.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadLuaScript } from "./lua-scripts.js";

const dir = new URL("./lua/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".lua"));
const includesDir = new URL("./includes/", dir);
const includes = readdirSync(includesDir).filter((f) => f.endsWith(".lua"));

describe("Lua scripts", () => {
  it("are named <name>-<numKeys>.lua", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(/^[a-z]+(-[a-z]+)*-\d+\.lua$/);
  });

  it.each(files)("%s opens with a comment documenting KEYS, ARGV and the return value", (file) => {
    const source = readFileSync(new URL(file, dir), "utf8");
    const numKeys = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
    expect(source.startsWith("--[[")).toBe(true);
    const header = source.slice(0, source.indexOf("]]"));
    const body = source.slice(source.indexOf("]]"));
    for (let i = 1; i <= numKeys; i++) expect(header).toContain(`KEYS[${i}]`);
    expect(header).toMatch(/Returns/);
    const used = [...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
    expect(Math.max(0, ...used)).toBe(numKeys);
    for (const m of body.matchAll(/ARGV\[(\d+)\]/g)) {
      expect(header).toMatch(new RegExp(`ARGV\\[${m[1]}(\\]|\\.\\.)`));
    }
  });

  it.each(files)("%s loads with the functions of its includes defined", (file) => {
    const raw = readFileSync(new URL(file, dir), "utf8");
    const source = loadLuaScript(new URL(file, dir));
    expect(source).not.toMatch(/@include/);
    for (const [, include] of raw.matchAll(/^--- @include "includes\/([a-z-]+)"$/gm)) {
      expect(source).toContain(`local function ${camelCase(`${include}.lua`)}(`);
    }
  });
});

function camelCase(file: string): string {
  return file
    .replace(/\.lua$/, "")
    .replace(/-([a-z])/g, (_dash, letter: string) => letter.toUpperCase());
}

describe("Lua includes", () => {
  it("are named in kebab-case", () => {
    expect(includes.length).toBeGreaterThan(0);
    for (const file of includes) expect(file).toMatch(/^[a-z]+(-[a-z]+)*\.lua$/);
  });

  it.each(includes)(
    "%s documents the one function it defines, named after the file, and what it returns",
    (file) => {
      const source = readFileSync(new URL(file, includesDir), "utf8");
      const name = camelCase(file);
      expect(source.startsWith(`--[[\n  ${name}(`)).toBe(true);
      expect(source.slice(0, source.indexOf("]]"))).toMatch(/Returns/);
      expect([...source.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1])).toEqual([name]);
      expect(source).not.toMatch(/\b(KEYS|ARGV)\[/);
    },
  );
});

describe("loadLuaScript", () => {
  let scratch: string | undefined;
  afterEach(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  function write(files: Record<string, string>): URL {
    scratch = mkdtempSync(path.join(tmpdir(), "guildhall-lua-"));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
      writeFileSync(path.join(scratch, name), text);
    }
    return pathToFileURL(`${scratch}/`);
  }

  it("expands each include once, a nested one found next to the file that includes it", () => {
    const root = write({
      "main-0.lua": [
        '--- @include "includes/first"',
        '--- @include "includes/second"',
        '--- @include "includes/first"',
        "return 1",
      ].join("\n"),
      "includes/first.lua": "local first = 1",
      "includes/second.lua": '--- @include "third"\nlocal second = 2',
      "includes/third.lua": "local third = 3",
    });
    const source = loadLuaScript(new URL("main-0.lua", root));
    expect(source.split("\n").filter((line) => line !== "")).toEqual([
      "local first = 1",
      "local third = 3",
      "local second = 2",
      "return 1",
    ]);
  });

  it("fails at load, naming the script and the missing file, when an include does not exist", () => {
    const root = write({ "broken-0.lua": '--- @include "includes/nowhere"\nreturn 1\n' });
    expect(() => loadLuaScript(new URL("broken-0.lua", root))).toThrow(
      /broken-0\.lua includes "includes\/nowhere", but .*nowhere\.lua does not exist/,
    );
  });
});
