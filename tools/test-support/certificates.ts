// Certificates for TLS tests, made with the openssl command: a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate the CA signed, and a self-signed "rogue" client
// certificate nobody vouches for. Valid for a day, in a temporary directory of their own.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** The names of the PEM files {@link makeTestCertificates} writes. */
export type TestPemName =
  "ca.crt" | "server.crt" | "server.key" | "client.crt" | "client.key" | "rogue.crt" | "rogue.key";

/** Test certificates on disk. */
export interface TestCertificates {
  /** The directory that holds them. */
  readonly dir: string;
  /** The path of one of them. */
  file(name: TestPemName): string;
  /** The contents of one of them. */
  pem(name: TestPemName): Buffer;
  /** Deletes the directory. */
  remove(): void;
}

/** Writes a fresh set of test certificates (needs `openssl` on the PATH). */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), "guildhall-tls-"));
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  };
  const key = (name: string): void =>
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", name);
  const selfSigned = (name: string, subject: string): void => {
    key(`${name}.key`);
    run(
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-subj",
      subject,
    );
  };
  const signed = (name: string, subject: string, extensions: string): void => {
    key(`${name}.key`);
    run("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    writeFileSync(path.join(dir, `${name}.ext`), extensions);
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  selfSigned("ca", "/CN=guildhall test CA");
  signed(
    "server",
    "/CN=localhost",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  signed("client", "/CN=engine", "extendedKeyUsage=clientAuth\n");
  selfSigned("rogue", "/CN=rogue");
  const file = (name: TestPemName): string => path.join(dir, name);
  return {
    dir,
    file,
    pem: (name) => readFileSync(file(name)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
