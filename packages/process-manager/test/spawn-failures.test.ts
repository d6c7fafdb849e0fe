// Every way a spawn can fail rejects with a clear GuildhallError and leaves no process behind.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { createAgentProcessManager, type AgentProcessManager } from "@guildhall/process-manager";
import { childPids, FIXTURES, fixtureClass, isRunning, recordEvents } from "./helpers.js";

const guild = { id: "guild-f", name: "Failures" };
let baseline: number[];
let manager: AgentProcessManager;
let sandbox: string;
let allowed: string;
let outside: string;

beforeAll(async () => {
  baseline = childPids();
  // allowed/ is on the allowlist; outside/ is not, and is reachable from allowed/ only by `..`
  // or through symlinks.
  sandbox = mkdtempSync(path.join(tmpdir(), "guildhall-allowlist-"));
  allowed = path.join(sandbox, "allowed");
  outside = path.join(sandbox, "outside");
  mkdirSync(allowed);
  mkdirSync(outside);
  writeFileSync(path.join(outside, "agent.mjs"), "export class Escaped {}\n");
  symlinkSync(path.join(outside, "agent.mjs"), path.join(allowed, "link.mjs"));
  symlinkSync(outside, path.join(allowed, "linked-dir"));
  manager = await createAgentProcessManager({
    agentModules: [FIXTURES, allowed, "@guildhall/not-installed"],
    warmPoolSize: 1,
  });
});

afterAll(async () => {
  await manager.shutdown();
  rmSync(sandbox, { recursive: true, force: true });
  expect(childPids()).toEqual(baseline);
});

afterEach(() => {
  expect(manager.status().agents).toBe(0);
});

/** Spawns `className` expecting a rejection; checks no process of the attempt survives. */
async function refused(className: string, id = "bad"): Promise<GuildhallError> {
  const events = recordEvents(manager);
  const error = await manager
    .spawn({ guild, agent: { id, name: "Bad", className } })
    .then(() => undefined)
    .catch((error: unknown) => error);
  expect(error).toBeInstanceOf(GuildhallError);
  for (const event of events) {
    if (event.type === "started") expect(isRunning(event.pid)).toBe(false);
  }
  expect(manager.has(guild.id, id)).toBe(false);
  await manager.whenWarm();
  const running = new Set([...baseline, ...manager.status().warmPool.idlePids]);
  expect(childPids().filter((pid) => !running.has(pid))).toEqual([]);
  return error as GuildhallError;
}

describe("allowlist", () => {
  it("refuses a module outside the allowlist without forking", async () => {
    const events = recordEvents(manager);
    const error = await refused(path.join(outside, "agent.mjs") + "#Escaped");
    expect(error.code).toBe("permission-denied");
    expect(error.message).toMatch(/not allowed on this host.*add its package name/);
    expect(events).toEqual([]);
  });

  it("refuses a package that is not listed exactly", async () => {
    const error = await refused("@guildhall/not-installed-either#Agent");
    expect(error.code).toBe("permission-denied");
  });

  it("refuses a `..` escape from an allowed directory", async () => {
    const error = await refused(`${allowed}/../outside/agent.mjs#Escaped`);
    expect(error.code).toBe("permission-denied");
  });

  it("refuses a file symlink that leads out of an allowed directory", async () => {
    const error = await refused(`${allowed}/link.mjs#Escaped`);
    expect(error.code).toBe("permission-denied");
    expect(error.message).toMatch(/resolves to .*outside.*symlinks are followed/);
  });

  it("refuses a directory symlink that leads out of an allowed directory", async () => {
    const error = await refused(`${pathToFileURL(allowed).href}/linked-dir/agent.mjs#Escaped`);
    expect(error.code).toBe("permission-denied");
  });

  it("reports an allowed path that does not exist as not-found", async () => {
    const error = await refused(`${allowed}/missing.mjs#Agent`);
    expect(error.code).toBe("not-found");
  });

  it("reports an allowed package that is not installed as not-found", async () => {
    const error = await refused("@guildhall/not-installed#Agent");
    expect(error.code).toBe("not-found");
    expect(error.message).toMatch(/could not be loaded/);
  });
});

describe("loading and starting", () => {
  it("rejects a missing export, listing what the module exports", async () => {
    const error = await refused(fixtureClass("Nope"));
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toMatch(/no export "Nope".*Echo/);
  });

  it("rejects an export that is not an Agent subclass", async () => {
    const error = await refused(fixtureClass("NotAnAgent"));
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toMatch(/not an Agent subclass.*extends Agent/);
    const constant = await refused(fixtureClass("notAClass"));
    expect(constant.message).toMatch(/not an Agent subclass \(it is a number\)/);
  });

  it("rejects with the message of an onStart that throws", async () => {
    const error = await refused(fixtureClass("FailingStart"));
    expect(error.code).toBe("internal");
    expect(error.message).toMatch(/onStart threw: database unreachable/);
  });

  it("rejects with the message of a module that throws on import", async () => {
    const error = await refused(fixtureClass("Broken", "throws-on-import.mjs"));
    expect(error.code).toBe("internal");
    expect(error.message).toMatch(/threw while loading: this module is broken on purpose/);
  });

  it("rejects an onStart whose send fails because the host has no onPublish handler", async () => {
    const events = recordEvents(manager);
    const error = await manager
      .spawn({
        guild,
        agent: {
          id: "mute",
          name: "Mute",
          className: fixtureClass("Echo"),
          properties: { announce: true },
        },
      })
      .catch((error: unknown) => error);
    expect(error).toMatchObject({ code: "unavailable" });
    expect((error as Error).message).toMatch(
      /onStart sent a message the host refused: .*no onPublish handler/,
    );
    for (const event of events) {
      if (event.type === "started") expect(isRunning(event.pid)).toBe(false);
    }
    await manager.whenWarm();
  });

  it("announces the failed process as crashed, without restart", async () => {
    const events = recordEvents(manager);
    await refused(fixtureClass("FailingStart"));
    expect(events.map((event) => event.type)).toEqual(["started", "crashed"]);
    const crashed = events[1];
    expect(crashed?.type === "crashed" && crashed.willRestart).toBe(false);
    expect(crashed?.type === "crashed" ? crashed.error : undefined).toMatch(/onStart threw/);
  });

  it("rejects a malformed spec with invalid-argument before anything starts", async () => {
    const error = await refused("no-hash-here");
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toMatch(/className/);
    const badId = await manager
      .spawn({
        guild,
        agent: { id: "no spaces allowed", name: "x", className: fixtureClass("Echo") },
      })
      .catch((error: unknown) => error);
    expect(badId).toMatchObject({ code: "invalid-argument" });
  });
});
