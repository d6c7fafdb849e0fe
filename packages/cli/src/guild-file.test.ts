import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CliError, ExitCode } from "./exit-codes.js";
import { readGuildFile } from "./guild-file.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "guild-file-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function refusal(file: string): CliError {
  try {
    readGuildFile(file);
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error("readGuildFile accepted the file");
}

describe("readGuildFile", () => {
  it("makes module paths relative to the guild file absolute and lists the modules to allow", () => {
    const file = write(
      "guild.yaml",
      [
        "id: g",
        "name: G",
        "agents:",
        "  - { id: a, name: A, className: ./dist/agents.js#A }",
        "  - { id: b, name: B, className: ../shared/b.js#B }",
        "  - { id: c, name: C, className: '@acme/agents#C' }",
        "  - { id: d, name: D, className: ./dist/agents.js#D }",
      ].join("\n"),
    );
    const { spec, modules } = readGuildFile(file);
    const agents = path.join(dir, "dist", "agents.js");
    const shared = path.join(path.dirname(dir), "shared", "b.js");
    expect(spec.agents.map((a) => a.className)).toEqual([
      `${agents}#A`,
      `${shared}#B`,
      "@acme/agents#C",
      `${agents}#D`,
    ]);
    expect(modules).toEqual([agents, shared, "@acme/agents"]);
  });

  it("reads JSON guild files too", () => {
    const file = write(
      "guild.json",
      JSON.stringify({
        id: "g",
        name: "G",
        agents: [{ id: "a", name: "A", className: "./a.js#A" }],
      }),
    );
    expect(readGuildFile(file).modules).toEqual([path.join(dir, "a.js")]);
  });

  it("names the path of each bad field, with the bad-guild-file status", () => {
    const error = refusal(
      write(
        "guild.yaml",
        "id: g\nname: G\nagents:\n  - { id: a, name: A }\n  - { id: 'b c', name: B, className: x#B }\n",
      ),
    );
    expect(error.exitCode).toBe(ExitCode.badGuildFile);
    expect(error.message).toContain("agents[0].className");
    expect(error.message).toContain("agents[1].id");
  });

  it("names the line of a syntax error, and a file that cannot be read", () => {
    const syntax = refusal(write("guild.yaml", "id: g\nname: [unclosed\n"));
    expect(syntax.exitCode).toBe(ExitCode.badGuildFile);
    expect(syntax.message).toMatch(/line \d+/);
    const missing = refusal(path.join(dir, "nope.yaml"));
    expect(missing.exitCode).toBe(ExitCode.badGuildFile);
    expect(missing.message).toContain("cannot read the guild file");
  });
});
