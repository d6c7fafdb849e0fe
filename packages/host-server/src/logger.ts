// The host's JSON log: pino, one object per line on stdout, with the `host` field on every entry
// and `agent_id` / `guild_id` on entries about one agent.
import { pino, type Logger } from "pino";
import type { HostLogLevel } from "./host-options.js";

/**
 * A pino logger writing JSON lines to stdout at `level`, as the host does by default; pass it as
 * `logger` to share it with your own program.
 */
export function createHostLogger(level: HostLogLevel): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    formatters: {
      // Level names rather than numbers: readable in `kubectl logs` and still easy to filter.
      level: (label) => ({ level: label }),
    },
  });
}
