import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveClientTls } from "./client-tls.js";
import { CliError, ExitCode } from "./exit-codes.js";

const dir = mkdtempSync(path.join(tmpdir(), "guildhall-client-tls-"));
const file = (name: string): string => {
  const at = path.join(dir, name);
  writeFileSync(at, `-----BEGIN ${name}-----\n`);
  return at;
};
const ca = file("ca.pem");
const cert = file("cert.pem");
const key = file("key.pem");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function usageError(run: () => unknown): CliError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(ExitCode.usage);
    return error as CliError;
  }
  throw new Error("expected a usage error");
}

describe("resolveClientTls", () => {
  it("is plaintext unless a flag or variable asks for TLS", () => {
    expect(resolveClientTls({}, {})).toBeUndefined();
    expect(resolveClientTls({}, { GUILDHALL_CLIENT_TLS: "0" })).toBeUndefined();
    expect(resolveClientTls({ tls: true }, {})).toEqual({});
    expect(resolveClientTls({}, { GUILDHALL_CLIENT_TLS: "true" })).toEqual({});
    expect(resolveClientTls({ tlsServerName: "hosts.internal" }, {})).toEqual({
      serverName: "hosts.internal",
    });
  });

  it("reads the CA and the client certificate from the flags, else the variables", () => {
    const fromFlags = resolveClientTls({ tlsCa: ca, tlsCert: cert, tlsKey: key }, {});
    expect(fromFlags?.ca?.toString()).toContain("ca.pem");
    expect(fromFlags?.cert?.toString()).toContain("cert.pem");
    expect(fromFlags?.key?.toString()).toContain("key.pem");

    const fromEnv = resolveClientTls(
      { tlsCa: ca },
      {
        GUILDHALL_CLIENT_TLS_CA: "/ignored",
        GUILDHALL_CLIENT_TLS_CERT: cert,
        GUILDHALL_CLIENT_TLS_KEY: key,
      },
    );
    expect(fromEnv?.ca?.toString()).toContain("ca.pem");
    expect(fromEnv?.cert?.toString()).toContain("cert.pem");
  });

  it("ignores the host's own GUILDHALL_TLS_* variables", () => {
    expect(
      resolveClientTls(
        {},
        { GUILDHALL_TLS_CERT: cert, GUILDHALL_TLS_KEY: key, GUILDHALL_TLS_CA: ca },
      ),
    ).toBeUndefined();
  });

  it("refuses a certificate without its key, an unreadable file, and a bad switch, naming them", () => {
    expect(usageError(() => resolveClientTls({ tlsCert: cert }, {})).message).toMatch(
      /--tls-cert and --tls-key/,
    );
    expect(
      usageError(() => resolveClientTls({}, { GUILDHALL_CLIENT_TLS_KEY: key })).message,
    ).toMatch(/GUILDHALL_CLIENT_TLS_CERT/);
    const missing = path.join(dir, "absent.pem");
    expect(usageError(() => resolveClientTls({ tlsCa: missing }, {})).message).toContain(
      `cannot read --tls-ca (or GUILDHALL_CLIENT_TLS_CA) file ${missing}`,
    );
    expect(usageError(() => resolveClientTls({}, { GUILDHALL_CLIENT_TLS: "yes" })).message).toMatch(
      /GUILDHALL_CLIENT_TLS must be 1 or true/,
    );
  });
});
