// Ends an agent's OS process from the host, sooner than the process manager's own stop would.
import { GuildhallError } from "@guildhall/core";
import type { AgentProcessManager } from "@guildhall/process-manager";

/** Ends an agent's process at once; its restart policy brings it back from its checkpoint. */
export async function killAgentProcess(
  manager: AgentProcessManager,
  guildId: string,
  agentId: string,
): Promise<void> {
  const { pid } = await manager.info(guildId, agentId).catch(() => ({ pid: undefined }));
  if (pid !== undefined) sigkill(pid);
}

/**
 * Stops an agent's process; an agent the manager no longer has counts as stopped. The process
 * manager escalates after its own `stopTimeoutMs`; a shorter `timeoutMs` is enforced here, on the
 * `pid` it reported.
 */
export async function stopAgentProcess(
  manager: AgentProcessManager,
  guildId: string,
  agentId: string,
  options: {
    pid: number | undefined;
    timeoutMs: number | undefined;
    stopTimeoutMs: number;
    /** See `AgentStopOptions.quiesced`. */
    quiesced?: boolean;
  },
): Promise<void> {
  const { pid, timeoutMs, quiesced = false } = options;
  let timer: NodeJS.Timeout | undefined;
  if (pid !== undefined && timeoutMs !== undefined && timeoutMs < options.stopTimeoutMs) {
    timer = setTimeout(() => sigkill(pid), timeoutMs);
  }
  try {
    await manager.stop(guildId, agentId, { quiesced });
  } catch (error) {
    if (!(error instanceof GuildhallError && error.code === "not-found")) throw error;
  } finally {
    clearTimeout(timer);
  }
}

function sigkill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
