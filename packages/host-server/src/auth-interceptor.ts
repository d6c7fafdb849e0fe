// Bearer-token authentication of every RPC except the standard health service, which Kubernetes
// probes call without secrets. Tokens are compared as SHA-256 digests with timingSafeEqual, so
// neither the comparison time nor a length check tells an attacker how much of a guess was right.
import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Health } from "@guildhall/proto";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Whether `presented` is the expected token, in constant time. */
export function tokenMatches(expectedDigest: Buffer, presented: string): boolean {
  return timingSafeEqual(expectedDigest, digest(presented));
}

/**
 * An interceptor that refuses calls without `authorization: Bearer <token>` with UNAUTHENTICATED;
 * calls of `grpc.health.v1.Health` pass without a token.
 */
export function createAuthInterceptor(token: string): Interceptor {
  const expected = digest(token);
  return (next) => async (req) => {
    if (req.service.typeName === Health.typeName) return next(req);
    const header = req.header.get("authorization");
    if (header === null) {
      throw new ConnectError(
        'this agent host requires a bearer token: send the header "authorization: Bearer <token>" (the engine\'s token option, GUILDHALL_TOKEN on the host)',
        Code.Unauthenticated,
      );
    }
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match === null || !tokenMatches(expected, match[1] ?? "")) {
      throw new ConnectError(
        "the bearer token is wrong: use the token the host was started with (GUILDHALL_TOKEN)",
        Code.Unauthenticated,
      );
    }
    return next(req);
  };
}
