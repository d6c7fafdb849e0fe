// Resident memory of an agent process, read by the host from outside so that an agent whose event
// loop is blocked still reports it.
import { readFileSync } from "node:fs";

/**
 * RSS of `pid` in bytes from /proc (Linux); undefined where /proc is not available. Synchronous:
 * /proc is served from kernel memory, so a read never waits for a disk.
 */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
