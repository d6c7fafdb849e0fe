// One error type for everything a Guildhall component can refuse, with a code that maps one to one
// onto gRPC status codes at the RPC edge (host-server, engine).

/**
 * Every kind of failure, each with the number of the gRPC status code of the same name: the one
 * table both sides of the RPC edge (host-server answering, engine reading) map through, so a code
 * means the same on the wire and in a GuildhallError.
 */
export const GRPC_STATUS_OF_ERROR_CODE = Object.freeze({
  "invalid-argument": 3,
  "deadline-exceeded": 4,
  "not-found": 5,
  "already-exists": 6,
  "permission-denied": 7,
  "resource-exhausted": 8,
  "failed-precondition": 9,
  aborted: 10,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const);

/** What kind of failure an error is; each maps to the gRPC status code of the same name. */
export type ErrorCode = keyof typeof GRPC_STATUS_OF_ERROR_CODE;

/** Every {@link ErrorCode}, for validating codes that arrive as data (IPC, JSON). */
export const ERROR_CODES = Object.freeze(
  Object.keys(GRPC_STATUS_OF_ERROR_CODE) as [ErrorCode, ...ErrorCode[]],
);

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

/** The message of anything thrown: an Error's `message`, anything else as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
