// Who may read the dashboard. With a token, every request must carry it: as `Authorization:
// Bearer`, as `?token=` (how a person opens the page from a link), or as the cookie the page
// gets on that first load (how the page's own script, styles and event stream carry it, since an
// EventSource cannot send headers). Without a token the dashboard listens on loopback only, and
// the Host header must name loopback too: a web page elsewhere that points a name of its own at
// 127.0.0.1 (DNS rebinding) is refused.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The cookie that carries the token after the first page load. */
export const TOKEN_COOKIE = "guildhall_dashboard_token";

/** The outcome of {@link checkAccess}. */
export type AccessResult =
  | {
      readonly allowed: true;
      /** The token came in the query: set the cookie. */ readonly setCookie: boolean;
    }
  | { readonly allowed: false; readonly status: 401 | 421; readonly reason: string };

// Hashing both sides first gives timingSafeEqual buffers of one length, so neither the token's
// length nor its content leaks through the time a comparison takes.
function sameToken(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function cookieToken(header: string | undefined): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const LOOPBACK_HOST_HEADER = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/** Whether `request` may be answered by a dashboard that requires `token` (or none). */
export function checkAccess(
  request: IncomingMessage,
  url: URL,
  token: string | undefined,
): AccessResult {
  if (token === undefined) {
    return LOOPBACK_HOST_HEADER.test(request.headers.host ?? "")
      ? { allowed: true, setCookie: false }
      : {
          allowed: false,
          status: 421,
          reason: "this dashboard answers only to http://127.0.0.1 or http://localhost",
        };
  }
  const authorization = request.headers.authorization ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
  if (bearer !== undefined && sameToken(bearer, token)) return { allowed: true, setCookie: false };
  const query = url.searchParams.get("token");
  if (query !== null && sameToken(query, token)) return { allowed: true, setCookie: true };
  const cookie = cookieToken(request.headers.cookie);
  if (cookie !== undefined && sameToken(cookie, token)) return { allowed: true, setCookie: false };
  return {
    allowed: false,
    status: 401,
    reason:
      "this dashboard needs its token (GUILDHALL_DASHBOARD_TOKEN): open it as /?token=<token>, or send Authorization: Bearer <token>",
  };
}

/** The Set-Cookie value that lets the page's later requests carry `token`. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}
