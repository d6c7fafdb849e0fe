// Process accounting for tests, read from /proc: which processes a test started, whether they
// still run, and a check that none leaked.
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { waitFor } from "@guildhall/testing";

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live process (zombies count as gone). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** The parent of a live process, or undefined. */
export function parentOf(pid: number): number | undefined {
  return isRunning(pid) ? readStat(pid)?.ppid : undefined;
}

/**
 * Processes whose parent is `parent` (default: this test process), sorted; live ones only unless
 * `includeZombies`, which a test of reaping needs.
 */
export function childPids(parent = process.pid, { includeZombies = false } = {}): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (readStat(pid)?.ppid === parent && (includeZombies || isRunning(pid))) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Fails if processes started by this test process are still running, ignoring `expected`.
 * Processes being reaped right now get `graceMs`; a real leak stays.
 */
export async function expectNoLeakedProcesses(
  expected: readonly number[] = [],
  graceMs = 10_000,
): Promise<void> {
  const left = () => childPids().filter((pid) => !expected.includes(pid));
  await waitFor(() => left().length === 0, {
    description: "child processes to exit",
    timeoutMs: graceMs,
  }).catch(() => undefined);
  expect(left(), "processes leaked by the test").toEqual([]);
}
