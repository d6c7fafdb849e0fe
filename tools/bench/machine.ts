// Where and on what a run happened: machine, Node.js, load, and the commit measured.
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";

/** The machine and code of a run. */
export interface RunContext {
  readonly startedAt: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly loadAverageAtStart: readonly [number, number, number];
  readonly commit: string;
  /** Whether the working tree had changes to tracked files: the figures are then of those too. */
  readonly dirty: boolean;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

/** Reads the machine, the load average and the git commit, at the start of a run. */
export function readRunContext(): RunContext {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return {
    startedAt: new Date().toISOString(),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: [one, five, fifteen],
    commit: git(["rev-parse", "HEAD"]).trim() || "unknown",
    dirty: git(["status", "--porcelain", "--untracked-files=no"]).trim() !== "",
  };
}
