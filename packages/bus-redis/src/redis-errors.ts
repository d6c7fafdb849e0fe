// The one place where ioredis failures become GuildhallErrors: connection trouble is `unavailable`,
// refused credentials `unauthenticated`, missing ACL rights `permission-denied`, a key of the wrong
// type `failed-precondition`. Messages name the server without credentials and say what to check;
// the password never appears in them.
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
      // A malformed escape: the raw form is the only one that can appear.
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

/** Maps the failures of one Redis server's connections, remembering the last connection error. */
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

  /** Records why a connection failed, to explain commands that fail because of it. */
  connectionFailed(error: Error): void {
    this.#lastConnectionError = error;
  }

  /** Forgets the last connection error once the connection is ready again. */
  connected(): void {
    this.#lastConnectionError = undefined;
  }

  /** Removes the password from `text`, wherever an underlying error may have quoted it. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join("***");
    return out;
  }

  #error(code: ErrorCode, message: string, cause: unknown): GuildhallError {
    return new GuildhallError(code, this.scrub(message), { cause });
  }

  /** The error for an operation refused because the connection is down right now. */
  unavailable(what: string, reason?: string): GuildhallError {
    const last = this.#lastConnectionError;
    const why = reason ?? (last === undefined ? "not connected" : messageOf(last));
    return this.#error(
      "unavailable",
      `${what}: Redis at ${this.#display} is unavailable (${why}). Check GUILDHALL_BUS_URL (or ` +
        "GUILDHALL_REDIS_URL / REDIS_URL) and that the server is running and reachable from here, " +
        "then retry; the bus keeps reconnecting and recovers by itself once it is.",
      undefined,
    );
  }

  /** The GuildhallError for anything an ioredis command of `what` rejected with. */
  map(error: unknown, what: string): GuildhallError {
    if (error instanceof GuildhallError) return error;
    const message = messageOf(error);
    const code = (error as { code?: unknown } | null)?.code;
    const name = error instanceof Error ? error.name : "";
    const last = this.#lastConnectionError;
    const fail = (errorCode: ErrorCode, text: string): GuildhallError =>
      this.#error(errorCode, `${what}: ${text}`, error);

    if (name === "ReplyError" || /^[A-Z]+ /.test(message)) {
      const word = message.split(" ", 1)[0] ?? "";
      if (word === "NOAUTH" || word === "WRONGPASS") {
        return fail(
          "unauthenticated",
          `Redis at ${this.#display} refused the credentials (${message}). Check the user and ` +
            "password in the bus URL (redis://user:password@host:port).",
        );
      }
      if (word === "NOPERM") {
        return fail(
          "permission-denied",
          `Redis at ${this.#display} denied a command to this user (${message}). Grant it the ` +
            "stream commands (XADD, XREAD, XREVRANGE, XINFO, XTRIM, XLEN), the hash commands, " +
            "EVALSHA and EVAL, and CLIENT on the bus keys.",
        );
      }
      if (word === "WRONGTYPE") {
        return fail(
          "failed-precondition",
          `a key of the bus on Redis at ${this.#display} holds another type than the bus writes there ` +
            `(${message}). Another application uses the same keys: give the bus its own prefix.`,
        );
      }
      if (word === "OOM") {
        return fail(
          "resource-exhausted",
          `Redis at ${this.#display} is out of memory (${message}). Raise maxmemory, or lower ` +
            "maxLenPerTopic so streams keep fewer messages.",
        );
      }
      if (TRANSIENT_REPLIES.includes(word)) {
        return this.unavailable(what, `it cannot serve commands now: ${message}`);
      }
      return fail("internal", `Redis at ${this.#display} failed a command: ${message}`);
    }
    if (
      name === "MaxRetriesPerRequestError" ||
      name === "AbortError" ||
      message === "Connection is closed."
    ) {
      return this.unavailable(
        what,
        last === undefined ? "the connection closed" : `the connection closed: ${messageOf(last)}`,
      );
    }
    if (message === "Command timed out") {
      return this.unavailable(
        what,
        "it did not answer within commandTimeoutMs; the command may still have been applied",
      );
    }
    if (
      (typeof code === "string" && NETWORK_CODES.has(code)) ||
      /stream isn't writeable/i.test(message)
    ) {
      return this.unavailable(what, message);
    }
    return fail("internal", `Redis at ${this.#display} failed: ${message}`);
  }
}
