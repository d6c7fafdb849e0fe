// `guildhall dev` end to end: the built bin runs the hello example on real local hosts with real
// agent processes, prints the pair talking, stops by itself and leaves no process behind.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { expectNoLeakedProcesses, isRunning } from "../../../tools/test-support/processes.js";
import { runCli, startCli } from "./run-cli.js";

afterEach(async () => {
  await expectNoLeakedProcesses();
});

describe("guildhall dev", () => {
  it("runs the hello pair, shows their messages, stops them at --timeout and exits 0", async () => {
    const result = await runCli([
      "dev",
      "examples/hello/guild.yaml",
      "--hosts",
      "2",
      "--timeout",
      "3s",
    ]);
    expect(result.stderr).toContain("stopped every agent and host");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines).toContainEqual(
      expect.stringMatching(/^initiator → default_topic: \{"greeting":"Hello #\d+"\}$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^responder → default_topic: \{"reply":"Hi initiator, got your \\"Hello #\d+\\""\}$/,
      ),
    );
    const agents = [
      ...result.stdout.matchAll(/^agent (\w+) on (127\.0\.0\.1:\d+): ready \(pid (\d+)\)$/gm),
    ];
    expect(agents.map((m) => m[1]).sort()).toEqual(["initiator", "responder"]);
    // The agents ran as processes of their own, and none outlived the command.
    const pids = agents.map((m) => Number(m[3]));
    expect(pids.every((pid) => pid > 0 && pid !== result.pid)).toBe(true);
    expect(pids.filter(isRunning)).toEqual([]);
  });

  it("stops every agent and exits 0 on Ctrl-C", async () => {
    const cli = startCli(["dev", "examples/hello/guild.yaml", "--hosts", "1"]);
    await cli.waitForOutput("responder → default_topic");
    cli.kill("SIGINT");
    const result = await cli.result;
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    expect(result.stderr).toContain("stopped every agent and host");
    const pids = [...result.stdout.matchAll(/: ready \(pid (\d+)\)$/gm)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(pids.filter(isRunning)).toEqual([]);
  });

  it("refuses a bad guild file, naming the field, with exit status 3 and nothing started", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "guildhall-dev-"));
    try {
      const file = path.join(dir, "guild.yaml");
      writeFileSync(
        file,
        [
          "id: broken",
          "name: Broken",
          "agents:",
          "  - id: fine",
          "    name: Fine",
          "    className: ./agents.js#Fine",
          "  - id: not an id!",
          "    name: Bad",
          "    className: ./agents.js#Bad",
          "",
        ].join("\n"),
      );
      const result = await runCli(["dev", file, "--timeout", "1s"]);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain("agents[1].id");
      expect(result.stdout).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says how to build an agent module that does not exist yet", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "guildhall-dev-"));
    try {
      const file = path.join(dir, "guild.yaml");
      writeFileSync(
        file,
        "id: g\nname: G\nagents:\n  - id: a\n    name: A\n    className: ./dist/missing.js#A\n",
      );
      const result = await runCli(["dev", file]);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain("agents[0].className");
      expect(result.stderr).toContain(path.join(dir, "dist", "missing.js"));
      expect(result.stderr).toContain("build the agents first");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad usage with exit status 2", async () => {
    const noFile = await runCli(["dev"]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("missing required argument");
    const badTimeout = await runCli(["dev", "examples/hello/guild.yaml", "--timeout", "soon"]);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("--timeout must be a positive duration");
  });
});
