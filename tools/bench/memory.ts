// Resident memory of agent and host processes, as figures next to a bare Node.js child.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AgentHostService } from "@guildhall/proto";
import type { MemoryFigure } from "./report.js";

const MiB = 2 ** 20;

/** The pids of the agent processes of `guildId` on the hosts at `addresses` (from ListAgents). */
export async function agentPidsOf(
  addresses: readonly string[],
  guildId: string,
): Promise<number[]> {
  const pids: number[] = [];
  for (const address of addresses) {
    const baseUrl = `http://${address}`;
    const manager = new Http2SessionManager(baseUrl);
    try {
      const client = createClient(
        AgentHostService,
        createGrpcTransport({ baseUrl, sessionManager: manager }),
      );
      const listed = await client.listAgents({ guildId });
      pids.push(...listed.agents.map((a) => a.pid).filter((pid) => pid > 0));
    } finally {
      manager.abort();
    }
  }
  return pids;
}

/** A memory figure: `bytes` of each of `count` processes, next to `bareBytes`. */
export function memoryFigure(
  id: string,
  title: string,
  bytes: number,
  count: number,
  bareBytes: number,
): MemoryFigure {
  return sizeFigure(id, title, bytes, count, { title: "bare Node.js child", bytes: bareBytes });
}

/**
 * A memory figure of a few bytes per item (e.g. per sleeping agent), next to a limit in bytes
 * that is a target rather than a process measured in the same run.
 */
export function sizeFigure(
  id: string,
  title: string,
  bytes: number,
  count: number,
  limit: { readonly title: string; readonly bytes: number },
): MemoryFigure {
  return {
    kind: "memory",
    id,
    title,
    mib: bytes / MiB,
    count,
    limit: { title: limit.title, mib: limit.bytes / MiB },
    ratio: bytes / limit.bytes,
  };
}
