// Shared by the tests of this package: the fixture agents, and the repository's test support
// (process accounting from /proc, `guildhall host` processes).
import { fileURLToPath } from "node:url";
import type { AgentSpec, GuildSpec } from "@guildhall/core";
import { expect } from "vitest";
import {
  childPids,
  expectNoLeakedProcesses,
  isRunning,
  parentOf,
} from "../../../tools/test-support/processes.js";

/** The fixture agents directory (an allowlist entry). */
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));

/** An agent spec of a fixture class (`Echo`, `FailingStart`). */
export function fixtureSpec(
  id: string,
  className = "Echo",
  extra: Partial<AgentSpec> = {},
): AgentSpec {
  return { id, name: `Agent ${id}`, className: `${FIXTURES}/agents.mjs#${className}`, ...extra };
}

/** A guild with a unique id and no agents. */
export function newGuild(label: string): GuildSpec {
  return { id: `${label}-${Math.random().toString(36).slice(2, 8)}`, name: label, agents: [] };
}

export { childPids, expectNoLeakedProcesses, isRunning, parentOf };
export { startHostProcess } from "../../../tools/test-support/host-process.js";
export type { HostProcess } from "../../../tools/test-support/host-process.js";

/** The code of a rejection, failing the test if the promise resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(Error);
  return error as Error & { code?: string };
}
