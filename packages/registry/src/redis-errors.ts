// The one place where ioredis failures become GuildhallErrors (as connect-node's node-error.ts does
// for Node errors), for the registry and the bus alike: connection trouble is `unavailable`,
// refused credentials `unauthenticated`, missing ACL rights `permission-denied`, a key of the wrong
// type `failed-precondition`. Messages name the server without credentials and end with the
// client's own advice; the password never appears in them.
import { GuildhallError, errorMessage, type ErrorCode } from "@guildhall/core";

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

/**
 * `redis://host:port/db` without user or password, for messages.
 *
 * @example displayRedisUrl("redis://u:secret@10.0.0.5:6379/2") // "redis://10.0.0.5:6379/2"
 */
export function displayRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const path = parsed.pathname === "/" ? "" : parsed.pathname;
    return `${parsed.protocol}//${parsed.host}${path}`;
  } catch {
    return "(an unparsable Redis URL)";
  }
}

/** Decodes the well-formed `%XX` runs of `text` and keeps malformed escapes as they are. */
function decodeLeniently(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/**
 * Every form the password of `url` may take in a message: as typed, as `new URL` normalises it
 * (which escapes spaces and the like), and decoded. A URL `new URL` refuses (a `/` or `#` in the
 * password) still has its userinfo cut out by hand, so its password is scrubbed too.
 */
function secretsOf(url: string): string[] {
  // Userinfo ends at the last `@`: a password may hold one, as `new URL` also reads it.
  const typed = /^[a-z][a-z\d+.-]*:\/\/(.*)@/i.exec(url)?.[1];
  const forms: string[] = [];
  if (typed?.includes(":") === true) forms.push(typed.slice(typed.indexOf(":") + 1));
  try {
    forms.push(new URL(url).password);
  } catch {
    // Unparsable: the typed form above is all there is.
  }
  const secrets = new Set<string>();
  for (const form of forms) {
    for (const secret of [form, decodeLeniently(form)]) {
      if (secret !== "") secrets.add(secret);
    }
  }
  // Longest first, so a secret inside another does not leave the rest of the longer one behind.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** The advice a {@link RedisErrorMapper} ends its messages with, worded for one client. */
export interface RedisErrorHints {
  /** When the server is unreachable: where its URL comes from, and what the client does meanwhile. */
  readonly unreachable: string;
  /** When the server refused the credentials: where to correct them. */
  readonly credentials: string;
  /** When an ACL denied a command: what the user must be granted. */
  readonly permission: string;
  /** When the server is out of memory: how to make room. */
  readonly outOfMemory: string;
  /** When a key holds another type than the client writes there: what to change. */
  readonly wrongType: string;
}

/**
 * Turns the failures of one Redis server's connections into GuildhallErrors, remembering the last
 * connection error to explain the commands that fail because of it.
 *
 * @example
 * ```ts
 * const errors = new RedisErrorMapper(url, hints);
 * client.on("error", (error) => errors.connectionFailed(error));
 * client.on("ready", () => errors.connected());
 * await client.get(key).catch((error) => { throw errors.map(error, "could not read the key"); });
 * ```
 */
export class RedisErrorMapper {
  readonly #display: string;
  readonly #secrets: readonly string[];
  readonly #hints: RedisErrorHints;
  #lastConnectionError: Error | undefined;

  /** `url` is the server's, credentials included (they are only kept to be scrubbed). */
  constructor(url: string, hints: RedisErrorHints) {
    this.#display = displayRedisUrl(url);
    this.#secrets = secretsOf(url);
    this.#hints = hints;
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

  #error(
    code: ErrorCode,
    message: string,
    what: string | undefined,
    cause: unknown,
  ): GuildhallError {
    const text = what === undefined ? message : `${what}: ${message}`;
    return new GuildhallError(code, this.scrub(text), { cause });
  }

  #unreachable(reason: string, what: string | undefined, cause: unknown): GuildhallError {
    return this.#error(
      "unavailable",
      `Redis at ${this.#display} is unreachable: ${reason}. ${this.#hints.unreachable}`,
      what,
      cause,
    );
  }

  /**
   * The `unavailable` error for operation `what`, refused because the connection is down; `reason`
   * defaults to the last connection error.
   */
  unavailable(what: string, reason?: string): GuildhallError {
    const last = this.#lastConnectionError;
    const why = reason ?? (last === undefined ? "not connected" : errorMessage(last));
    return this.#unreachable(why, what, undefined);
  }

  /**
   * The GuildhallError for anything an ioredis command rejected with; its message starts with
   * `what` when given. A GuildhallError is returned as it is.
   */
  map(error: unknown, what?: string): GuildhallError {
    if (error instanceof GuildhallError) return error;
    const message = errorMessage(error);
    const code = (error as { code?: unknown } | null)?.code;
    const name = error instanceof Error ? error.name : "";
    const last = this.#lastConnectionError;
    const fail = (errorCode: ErrorCode, text: string): GuildhallError =>
      this.#error(errorCode, `Redis at ${this.#display} ${text}`, what, error);

    if (name === "ReplyError" || /^[A-Z]+ /.test(message)) {
      const word = message.split(" ", 1)[0] ?? "";
      if (word === "NOAUTH" || word === "WRONGPASS") {
        return fail(
          "unauthenticated",
          `refused the credentials: ${message}. ${this.#hints.credentials}`,
        );
      }
      if (word === "NOPERM") {
        return fail(
          "permission-denied",
          `denied a command to this user: ${message}. ${this.#hints.permission}`,
        );
      }
      if (word === "WRONGTYPE") {
        return fail(
          "failed-precondition",
          `has a key of another type than expected: ${message}. ${this.#hints.wrongType}`,
        );
      }
      if (word === "OOM") {
        return fail(
          "resource-exhausted",
          `is out of memory: ${message}. ${this.#hints.outOfMemory}`,
        );
      }
      if (TRANSIENT_REPLIES.includes(word)) {
        return this.#unreachable(`the server cannot serve commands now (${message})`, what, error);
      }
      return fail("internal", `failed a command: ${message}`);
    }
    if (
      name === "MaxRetriesPerRequestError" ||
      name === "AbortError" ||
      message === "Connection is closed."
    ) {
      const reason = last === undefined ? "the connection closed" : errorMessage(last);
      return this.#unreachable(reason, what, error);
    }
    if (message === "Command timed out") {
      const reason =
        "it did not answer in time (commandTimeoutMs); the command may still have been applied";
      return this.#unreachable(
        last === undefined ? reason : `${reason}; last connection error: ${errorMessage(last)}`,
        what,
        error,
      );
    }
    if (
      (typeof code === "string" && NETWORK_CODES.has(code)) ||
      /stream isn't writeable/i.test(message)
    ) {
      return this.#unreachable(message, what, error);
    }
    return fail("internal", `failed: ${message}`);
  }
}
