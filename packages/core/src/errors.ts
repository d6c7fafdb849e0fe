// One error type for everything a Guildhall component can refuse, with a code that maps one to one
// onto gRPC status codes at the RPC edge (host-server, engine).

/** What kind of failure an error is; each maps to the gRPC status code of the same name. */
export type ErrorCode =
  | "invalid-argument"
  | "not-found"
  | "already-exists"
  | "resource-exhausted"
  | "permission-denied"
  | "unauthenticated"
  | "unavailable"
  | "failed-precondition"
  | "deadline-exceeded"
  | "aborted"
  | "internal";

const BRAND = Symbol.for("@guildhall/core/GuildhallError");

/**
 * An error a user or operator can act on: `code` says what kind of failure it is and the message
 * says what was wrong and what to do.
 *
 * `instanceof` works across two copies of `@guildhall/core` (say, one bundled with an agent module
 * and one with the host), because it checks a global brand rather than the prototype chain.
 */
export class GuildhallError extends Error {
  /** The kind of failure. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GuildhallError";
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Subclasses keep ordinary prototype checks; only the base class matches by brand.
    if (this !== GuildhallError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && BRAND in value;
  }
}
