import { describe, expect, it } from "vitest";
import { CliError } from "../exit-codes.js";
import { isLoopbackHost, resolveDashboardListen } from "./listen-options.js";

const TOKEN = "0123456789abcdef-token";

describe("resolveDashboardListen", () => {
  it("listens on loopback port 8787 by default, without a token", () => {
    expect(resolveDashboardListen({}, {})).toEqual({
      port: 8787,
      host: "127.0.0.1",
      loopback: true,
    });
  });

  it("takes a token on loopback too, and requires one anywhere else", () => {
    expect(resolveDashboardListen({ host: "[::1]" }, { GUILDHALL_DASHBOARD_TOKEN: TOKEN })).toEqual(
      { port: 8787, host: "::1", loopback: true, token: TOKEN },
    );
    expect(() => resolveDashboardListen({ host: "0.0.0.0" }, {})).toThrow(
      /GUILDHALL_DASHBOARD_TOKEN/,
    );
    expect(
      resolveDashboardListen({ host: "0.0.0.0", port: "0" }, { GUILDHALL_DASHBOARD_TOKEN: TOKEN }),
    ).toEqual({ port: 0, host: "0.0.0.0", loopback: false, token: TOKEN });
  });

  it("refuses a token too short to guard anything", () => {
    expect(() =>
      resolveDashboardListen({ host: "0.0.0.0" }, { GUILDHALL_DASHBOARD_TOKEN: "secret" }),
    ).toThrow(/at least 16 characters/);
  });

  it.each([["-1"], ["65536"], ["80a"], [""], ["1e3"]])("refuses port %j", (port) => {
    expect(() => resolveDashboardListen({ port }, {})).toThrow(CliError);
    expect(() => resolveDashboardListen({ port }, {})).toThrow(/--port must be a port number/);
  });

  it.each([["not a host"], ["http://x"], ["a..b"], [""]])("refuses host %j", (host) => {
    expect(() => resolveDashboardListen({ host }, {})).toThrow(/--host must be an IP address/);
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.7", false],
    ["example.com", false],
  ])("%s: %s", (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
