// Bearer tokens and (mutual) TLS. Certificates are made for each run with the openssl CLI in a
// temporary directory; no key is checked in.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AgentHostService,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HostState,
} from "@guildhall/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  makeTestCertificates,
  type TestCertificates,
  type TestPemName,
} from "../../../tools/test-support/certificates.js";
import { createAgentHost, type AgentHost } from "../src/index.js";
import {
  createRequest,
  expectNoLeakedProcesses,
  fixtureSpec,
  rejection,
  startTestHost,
  testHostOptions,
  type TestHost,
} from "./helpers.js";

let current: TestHost | undefined;
let tlsHost: AgentHost | undefined;

afterEach(async () => {
  await current?.host.close();
  current = undefined;
  await tlsHost?.close();
  tlsHost = undefined;
  await expectNoLeakedProcesses();
});

describe("bearer token", () => {
  it("refuses calls without the right token with UNAUTHENTICATED; health stays open", async () => {
    const t = (current = await startTestHost({ token: "s3cret-token" }));
    const missing = await rejection(t.client.health({}));
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(missing.rawMessage).toContain("authorization: Bearer <token>");

    const wrong = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("a", "Echo")), {
        headers: { authorization: "Bearer s3cret-tokem" },
      }),
    );
    expect(wrong.code).toBe(Code.Unauthenticated);
    expect(wrong.rawMessage).toContain("bearer token is wrong");
    expect(t.host.agentCount).toBe(0);

    const short = await rejection(t.client.health({}, { headers: { authorization: "Bearer s" } }));
    expect(short.code).toBe(Code.Unauthenticated);

    const ok = await t.client.health({}, { headers: { authorization: "Bearer s3cret-token" } });
    expect(ok.state).toBe(HostState.SERVING);
    expect((await t.health.check({})).status).toBe(ServingStatus.SERVING);

    const metrics = await t.host.metrics();
    expect(metrics).toMatch(
      /guildhall_host_rpc_handled_total\{method="AgentHostService\/Health",code="unauthenticated"\} 2/,
    );
  });
});

describe("TLS", () => {
  let certificates: TestCertificates;
  const pem = (name: TestPemName) => certificates.pem(name);

  beforeAll(() => {
    certificates = makeTestCertificates();
  });

  afterAll(() => {
    certificates.remove();
  });

  function clients(host: AgentHost, nodeOptions: Record<string, Buffer>) {
    const transport = createGrpcTransport({
      baseUrl: `https://${host.address}`,
      nodeOptions: { ca: pem("ca.crt"), ...nodeOptions },
    });
    return {
      api: createClient(AgentHostService, transport),
      health: createClient(Health, transport),
    };
  }

  it("serves over TLS", async () => {
    tlsHost = createAgentHost(
      testHostOptions({ tls: { cert: pem("server.crt"), key: pem("server.key") } }),
    );
    await tlsHost.start();
    const { api } = clients(tlsHost, {});
    expect((await api.health({})).state).toBe(HostState.SERVING);
  });

  it("with a CA, accepts only clients whose certificate the CA signed", async () => {
    tlsHost = createAgentHost(
      testHostOptions({
        tls: { cert: pem("server.crt"), key: pem("server.key"), ca: pem("ca.crt") },
      }),
    );
    await tlsHost.start();

    const trusted = clients(tlsHost, { cert: pem("client.crt"), key: pem("client.key") });
    expect((await trusted.api.health({})).state).toBe(HostState.SERVING);
    expect((await trusted.health.check({})).status).toBe(ServingStatus.SERVING);

    for (const nodeOptions of [{}, { cert: pem("rogue.crt"), key: pem("rogue.key") }]) {
      const refused = clients(tlsHost, nodeOptions);
      const error = await rejection(refused.health.check({}));
      // The handshake fails (TLS 1.3 reports it on the first read: an alert, or a cancelled stream).
      expect([Code.Internal, Code.Unavailable, Code.Canceled]).toContain(error.code);
    }
    // The refusals concerned those clients only, and no call of theirs reached a handler.
    expect((await trusted.api.health({})).state).toBe(HostState.SERVING);
    expect(await tlsHost.metrics()).toMatch(
      /guildhall_host_rpc_handled_total\{method="Health\/Check",code="ok"\} 1\n/,
    );
  });
});
