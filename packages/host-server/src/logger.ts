// The host's JSON log: pino, one object per line on stdout, with the `host` field on every entry
// and `agent_id` / `guild_id` on entries about one agent.
import type { AgentLogger } from "@guildhall/core";
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

/** `log` as the `(message, fields)` logger core's durable parts take (pino takes fields first). */
export function asAgentLogger(log: Logger): AgentLogger {
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}
