// What the kernel says about processes (Linux /proc): children, CPU time, resident memory. The
// benchmark waits on these for a quiet machine between measurements, and reads memory from them.
import { readdirSync, readFileSync } from "node:fs";
import { waitFor } from "@guildhall/testing";

interface Stat {
  readonly ppid: number;
  readonly state: string;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      state: rest[0] ?? "?",
      ppid: Number(rest[1]),
      cpuTicks: Number(rest[11]) + Number(rest[12]),
    };
  } catch {
    return undefined;
  }
}

function live(stat: Stat | undefined): stat is Stat {
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** Every live process and its stat, read in one pass over /proc. */
function liveProcesses(): Map<number, Stat> {
  const out = new Map<number, Stat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (live(stat)) out.set(Number(entry), stat);
  }
  return out;
}

function childrenIn(processes: ReadonlyMap<number, Stat>, parent: number): number[] {
  const out: number[] = [];
  for (const [pid, stat] of processes) if (stat.ppid === parent) out.push(pid);
  return out;
}

/** The live children of `parent`. */
export function childPids(parent: number): number[] {
  return childrenIn(liveProcesses(), parent);
}

/** Resident memory of `pid` in bytes (VmRSS), or NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** Processes whose children the benchmark waits on, and how many children they should have. */
export interface QuietGroup {
  readonly pids: readonly number[];
  /** Children of all of `pids` together; undefined: any number. */
  readonly children?: number;
  /** Count the processes' own CPU time too (not for this process: it is the one polling). */
  readonly self?: boolean;
  /** Children that are not counted (for this process: its redis-server, its host processes). */
  readonly ignore?: ReadonlySet<number>;
}

function snapshot(groups: readonly QuietGroup[]): { counts: number[]; ticks: number } {
  let ticks = 0;
  const processes = liveProcesses();
  const counts = groups.map((group) => {
    let count = 0;
    for (const parent of group.pids) {
      const children = childrenIn(processes, parent).filter(
        (pid) => group.ignore?.has(pid) !== true,
      );
      count += children.length;
      for (const pid of group.self === true ? [parent, ...children] : children) {
        ticks += processes.get(pid)?.cpuTicks ?? 0;
      }
    }
    return count;
  });
  return { counts, ticks };
}

/**
 * Resolves once each group has its expected number of children and none of them (nor the
 * processes of groups marked `self`) used CPU between two polls 30 ms apart: warm pools are full,
 * stopped agents are gone, and nothing started by the last measurement still runs into the next.
 */
export async function waitForQuiet(
  groups: readonly QuietGroup[],
  timeoutMs = 20_000,
): Promise<void> {
  let last = -1;
  let counts: number[] = [];
  const counted = (): string =>
    groups
      .map((g, i) => `${counts[i] ?? "?"} children, ${g.children ?? "any"} expected`)
      .join("; ");
  await waitFor(
    () => {
      const now = snapshot(groups);
      counts = now.counts;
      const settled =
        counts.every((count, i) => {
          const expected = groups[i]?.children;
          return expected === undefined || count === expected;
        }) && now.ticks === last;
      last = now.ticks;
      return settled;
    },
    { description: "idle child processes", timeoutMs: timeoutMs, intervalMs: 30 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}: ${counted()}`);
  });
}
