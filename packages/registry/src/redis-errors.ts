// The one place where ioredis failures become GuildhallErrors (as connect-node's node-error.ts does
// for Node errors): connection trouble is `unavailable`, refused credentials `unauthenticated`,
// missing ACL rights `permission-denied`. Messages name the server without credentials and say what
// to check; the password never appears in them.
import { GuildhallError, type ErrorCode } from "@guildhall/core";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

/** Reply error prefixes that mean "not now": the server is up but cannot serve the command yet. */
const TRANSIENT_REPLIES = ["READONLY", "LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN"];

/** `redis://host:port/db` without user or password, for messages. */
export function displayRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const path = parsed.pathname === "/" ? "" : parsed.pathname;
    return `${parsed.protocol}//${parsed.host}${path}`;
  } catch {
    return "(an unparsable Redis URL)";
  }
}

function secretsOf(url: string): string[] {
  try {
    const { password } = new URL(url);
    if (password === "") return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // A malformed escape: the raw form is the only one that can appear, and it still must not.
    }
    return [...new Set([password, decoded])].filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Maps the failures of one Redis connection, remembering its last connection error. */
export class RedisErrorMapper {
  readonly #display: string;
  readonly #secrets: readonly string[];
  #lastConnectionError: Error | undefined;

  constructor(url: string) {
    this.#display = displayRedisUrl(url);
    this.#secrets = secretsOf(url);
  }

  /** The server as messages name it. */
  get display(): string {
    return this.#display;
  }

  /** Records why the connection failed, to explain commands that fail because of it. */
  connectionFailed(error: Error): void {
    this.#lastConnectionError = error;
  }

  /** Forgets the last connection error once the connection is ready again. */
  connected(): void {
    this.#lastConnectionError = undefined;
  }

  #scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join("***");
    return out;
  }

  #error(code: ErrorCode, message: string, cause: unknown): GuildhallError {
    return new GuildhallError(code, this.#scrub(message), { cause });
  }

  #unreachable(reason: string, cause: unknown): GuildhallError {
    return this.#error(
      "unavailable",
      `Redis at ${this.#display} is unreachable: ${reason}. Check GUILDHALL_REDIS_URL (or ` +
        "REDIS_URL) and that the server is running and reachable from here; the registry keeps " +
        "reconnecting and recovers by itself once it is.",
      cause,
    );
  }

  /** The GuildhallError for anything an ioredis command rejected with. */
  map(error: unknown): GuildhallError {
    if (error instanceof GuildhallError) return error;
    const message = messageOf(error);
    const code = (error as { code?: unknown } | null)?.code;
    const name = error instanceof Error ? error.name : "";
    const last = this.#lastConnectionError;

    if (name === "ReplyError" || /^[A-Z]+ /.test(message)) {
      const word = message.split(" ", 1)[0] ?? "";
      if (word === "NOAUTH" || word === "WRONGPASS") {
        return this.#error(
          "unauthenticated",
          `Redis at ${this.#display} refused the credentials: ${message}. Check the user and ` +
            "password in GUILDHALL_REDIS_URL (redis://user:password@host:port).",
          error,
        );
      }
      if (word === "NOPERM") {
        return this.#error(
          "permission-denied",
          `Redis at ${this.#display} denied a command to this user: ${message}. Grant the user ` +
            "the commands and keys the registry uses (see the registry README, Redis ACL).",
          error,
        );
      }
      if (word === "OOM") {
        return this.#error(
          "resource-exhausted",
          `Redis at ${this.#display} is out of memory: ${message}. Raise maxmemory or free space.`,
          error,
        );
      }
      if (TRANSIENT_REPLIES.includes(word)) {
        return this.#unreachable(`the server cannot serve commands now (${message})`, error);
      }
      return this.#error(
        "internal",
        `Redis at ${this.#display} failed a command: ${message}`,
        error,
      );
    }
    if (name === "MaxRetriesPerRequestError" || message === "Connection is closed.") {
      return this.#unreachable(
        last === undefined ? "the connection closed" : messageOf(last),
        error,
      );
    }
    if (message === "Command timed out") {
      return this.#unreachable(
        last === undefined
          ? "it did not answer in time (commandTimeoutMs)"
          : `it did not answer in time (commandTimeoutMs); last connection error: ${messageOf(last)}`,
        error,
      );
    }
    if (
      (typeof code === "string" && NETWORK_CODES.has(code)) ||
      /stream isn't writeable/i.test(message)
    ) {
      return this.#unreachable(message, error);
    }
    return this.#error("internal", `Redis at ${this.#display} failed: ${message}`, error);
  }
}
