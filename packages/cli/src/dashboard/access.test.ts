import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { checkAccess, tokenCookie } from "./access.js";

const TOKEN = "0123456789abcdef-token";

function request(path: string, headers: Record<string, string>) {
  return {
    request: { headers } as unknown as IncomingMessage,
    url: new URL(path, "http://dashboard.invalid"),
  };
}

function allowed(path: string, headers: Record<string, string>, token?: string): boolean {
  const { request: r, url } = request(path, headers);
  return checkAccess(r, url, token).allowed;
}

describe("checkAccess", () => {
  it("without a token, answers loopback names only (no DNS rebinding)", () => {
    expect(allowed("/", { host: "127.0.0.1:8787" })).toBe(true);
    expect(allowed("/", { host: "localhost:8787" })).toBe(true);
    expect(allowed("/", { host: "[::1]:8787" })).toBe(true);
    expect(allowed("/", { host: "evil.example:8787" })).toBe(false);
    expect(allowed("/", {})).toBe(false);
  });

  it("with a token, takes it as a bearer, a query parameter or the cookie, and nothing else", () => {
    const host = { host: "10.0.0.7:8787" };
    expect(allowed("/", host, TOKEN)).toBe(false);
    expect(allowed("/", { ...host, authorization: `Bearer ${TOKEN}` }, TOKEN)).toBe(true);
    expect(allowed("/", { ...host, authorization: `Bearer ${TOKEN}x` }, TOKEN)).toBe(false);
    expect(allowed("/", { ...host, authorization: TOKEN }, TOKEN)).toBe(false);
    expect(allowed(`/?token=${TOKEN}`, host, TOKEN)).toBe(true);
    expect(allowed("/?token=wrong", host, TOKEN)).toBe(false);
    const cookie = tokenCookie(TOKEN).split(";")[0] ?? "";
    expect(allowed("/api/events", { ...host, cookie: `a=b; ${cookie}` }, TOKEN)).toBe(true);
    expect(allowed("/api/events", { ...host, cookie: `${cookie}x` }, TOKEN)).toBe(false);
  });

  it("asks to set the cookie only when the token came in the query", () => {
    const { request: r, url } = request(`/?token=${TOKEN}`, {});
    expect(checkAccess(r, url, TOKEN)).toEqual({ allowed: true, setCookie: true });
    const bearer = request("/", { authorization: `Bearer ${TOKEN}` });
    expect(checkAccess(bearer.request, bearer.url, TOKEN)).toEqual({
      allowed: true,
      setCookie: false,
    });
  });

  it("refuses with 401 and names the variable", () => {
    const { request: r, url } = request("/", {});
    const result = checkAccess(r, url, TOKEN);
    expect(result).toMatchObject({ allowed: false, status: 401 });
    expect(!result.allowed && result.reason).toContain("GUILDHALL_DASHBOARD_TOKEN");
  });
});
