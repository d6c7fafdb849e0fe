// The default log of agents that run without a host to collect their logs: one JSON line per entry
// on stderr, the shape pino writes, so tools that read host logs read these too.
import type { AgentLogger } from "./agent.js";

/** How severe a log entry is, least first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** The least severe level written. Default `"info"`. */
  level?: LogLevel;
  /** Fields added to every entry (an entry's own fields win). Default: none. */
  fields?: Record<string, unknown>;
  /** Where each line goes. Default: `process.stderr`. */
  write?: (line: string) => void;
}

/** A logger that writes one JSON object per entry: `{ level, time, msg, ...fields }`. */
export function createJsonLogger(options: JsonLoggerOptions = {}): AgentLogger {
  const threshold = LEVELS[options.level ?? "info"];
  const base = options.fields ?? {};
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const entry = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ level: LEVELS[level], time: Date.now(), ...base, ...fields, msg });
    } catch {
      line = JSON.stringify({ level: LEVELS[level], time: Date.now(), ...base, msg });
    }
    write(`${line}\n`);
  };
  return { debug: entry("debug"), info: entry("info"), warn: entry("warn"), error: entry("error") };
}

/** A logger that adds `fields` to every entry of `log`. */
export function withLogFields(log: AgentLogger, fields: Record<string, unknown>): AgentLogger {
  const merge = (extra?: Record<string, unknown>) => ({ ...fields, ...extra });
  return {
    debug: (msg, extra) => log.debug(msg, merge(extra)),
    info: (msg, extra) => log.info(msg, merge(extra)),
    warn: (msg, extra) => log.warn(msg, merge(extra)),
    error: (msg, extra) => log.error(msg, merge(extra)),
  };
}
