// The cluster commands against a host that serves mutual TLS: with the client flags they run,
// list and stop agents; without them, or with a certificate the hosts' CA did not sign, they
// say what to check and change nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startRedisServer, type RedisTestServer } from "@guildhall/testing";
import {
  makeTestCertificates,
  type TestCertificates,
} from "../../../tools/test-support/certificates.js";
import { startHostProcess, type HostProcess } from "../../../tools/test-support/host-process.js";
import { expectNoLeakedProcesses, isRunning } from "../../../tools/test-support/processes.js";
import { runCli } from "./run-cli.js";

const HELLO_AGENTS = fileURLToPath(new URL("../../../examples/hello/dist", import.meta.url));
const PREFIX = `cli-tls-${process.pid}:`;

let redis: RedisTestServer;
let certificates: TestCertificates;
let host: HostProcess;
let cluster: string[];
let clientTls: string[];

beforeAll(async () => {
  certificates = makeTestCertificates();
  redis = await startRedisServer();
  host = await startHostProcess({
    redisUrl: redis.url,
    keyPrefix: PREFIX,
    agentModules: [HELLO_AGENTS],
    env: {
      GUILDHALL_TLS_CERT: certificates.file("server.crt"),
      GUILDHALL_TLS_KEY: certificates.file("server.key"),
      GUILDHALL_TLS_CA: certificates.file("ca.crt"),
    },
  });
  cluster = ["--redis", redis.url, "--key-prefix", PREFIX];
  clientTls = [
    "--tls-ca",
    certificates.file("ca.crt"),
    "--tls-cert",
    certificates.file("client.crt"),
    "--tls-key",
    certificates.file("client.key"),
  ];
});

afterEach(async () => {
  await expectNoLeakedProcesses([host.pid, redis.pid ?? 0]);
});

afterAll(async () => {
  await host.kill("SIGTERM");
  await redis.stop();
  certificates.remove();
  await expectNoLeakedProcesses();
});

async function listAgents(): Promise<{ agentId: string; pid: number; state: string }[]> {
  const result = await runCli(["agents", "ls", "--json", ...cluster, ...clientTls]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { agentId: string; pid: number; state: string }[];
}

describe("guildhall against hosts that serve mutual TLS", () => {
  it("runs, lists and stops agents with the client certificate", async () => {
    const run = await runCli([
      "run",
      "examples/hello/guild.yaml",
      "--json",
      ...cluster,
      ...clientTls,
    ]);
    expect(run.stderr).toContain("agent initiator ready on");
    expect(run.code).toBe(0);

    const agents = await listAgents();
    expect(agents.map((a) => [a.agentId, a.state]).sort()).toEqual([
      ["initiator", "ready"],
      ["responder", "ready"],
    ]);

    // A stop through a client without TLS is refused by the host and leaves everything as it was:
    // the agents run, and stay wanted, so the stop below still finds them by id.
    const misconfigured = await runCli(["agents", "stop", "initiator", ...cluster]);
    expect(misconfigured.code).not.toBe(0);
    expect(misconfigured.stderr).toContain(host.address);
    expect((await listAgents()).map((a) => a.pid).sort()).toEqual(agents.map((a) => a.pid).sort());

    const stop = await runCli([
      "agents",
      "stop",
      "initiator",
      "responder",
      ...cluster,
      ...clientTls,
    ]);
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    expect(await listAgents()).toEqual([]);
    expect(agents.map((a) => a.pid).filter(isRunning)).toEqual([]);
  });

  it("takes the client settings from GUILDHALL_CLIENT_TLS_* too", async () => {
    const result = await runCli(["agents", "ls", "--json", ...cluster], {
      env: {
        GUILDHALL_CLIENT_TLS_CA: certificates.file("ca.crt"),
        GUILDHALL_CLIENT_TLS_CERT: certificates.file("client.crt"),
        GUILDHALL_CLIENT_TLS_KEY: certificates.file("client.key"),
      },
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it("without TLS, or with a certificate the CA did not sign, says the host does not answer", async () => {
    for (const tls of [
      [],
      ["--tls-ca", certificates.file("ca.crt")],
      [
        "--tls-ca",
        certificates.file("ca.crt"),
        "--tls-cert",
        certificates.file("rogue.crt"),
        "--tls-key",
        certificates.file("rogue.key"),
      ],
    ]) {
      const result = await runCli(["agents", "ls", ...cluster, ...tls]);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain(`host ${host.address}`);
      expect(result.stderr).toContain("--tls");
    }
  });

  it("names a certificate without its key, or an unreadable file, before it connects", async () => {
    const half = await runCli([
      "agents",
      "ls",
      ...cluster,
      "--tls-cert",
      certificates.file("client.crt"),
    ]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--tls-key");

    const missing = await runCli(["agents", "ls", ...cluster, "--tls-ca", "/nonexistent/ca.pem"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read --tls-ca");
    expect(missing.stderr).toContain("/nonexistent/ca.pem");
  });
});
