// Shared by the integration tests: hosts on free ports with generated clients, spec builders, and
// process accounting from /proc.
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MemoryBus, type AgentSpec } from "@guildhall/core";
import {
  AgentHostService,
  CreateAgentRequestSchema,
  GuildSpecSchema,
  Health,
  type CreateAgentRequest,
} from "@guildhall/proto";
import { MemoryLocationRegistry } from "@guildhall/registry";
import { afterEach, expect } from "vitest";
import {
  agentSpecToProto,
  createAgentHost,
  type AgentHost,
  type AgentHostOptions,
} from "../src/index.js";
import {
  childPids,
  expectNoLeakedProcesses,
  isRunning,
} from "../../../tools/test-support/processes.js";

/** The fixture agents directory (an allowlist entry). */
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));

/** `"<fixtures>/agents.mjs#<name>"`. */
export function fixtureClass(name: string): string {
  return `${FIXTURES}/agents.mjs#${name}`;
}

/** A host with its clients and the in-memory registry and bus it runs on. */
export interface TestHost {
  readonly host: AgentHost;
  readonly registry: MemoryLocationRegistry;
  readonly bus: MemoryBus;
  readonly transport: Transport;
  readonly client: Client<typeof AgentHostService>;
  readonly health: Client<typeof Health>;
}

/** Options every test host shares: free ports, quiet logs, the fixtures allowlisted. */
export function testHostOptions(extra: AgentHostOptions = {}): AgentHostOptions {
  return {
    port: 0,
    host: "127.0.0.1",
    metricsPort: 0,
    processMetrics: false,
    logLevel: "silent",
    agentModules: [FIXTURES],
    warmPoolSize: 0,
    stopTimeoutMs: 5_000,
    ...extra,
  };
}

/**
 * For a test file whose tests each start hosts: returns {@link startTestHost} and, after each
 * test, closes the hosts it started and fails the test if an agent process outlived them.
 */
export function useTestHosts(): (extra?: AgentHostOptions) => Promise<TestHost> {
  const started: TestHost[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((t) => t.host.close()));
    await expectNoLeakedProcesses();
  });
  return async (extra) => {
    const t = await startTestHost(extra);
    started.push(t);
    return t;
  };
}

/** Starts a host on a MemoryLocationRegistry and MemoryBus (unless given) with a gRPC client. */
export async function startTestHost(extra: AgentHostOptions = {}): Promise<TestHost> {
  const registry = new MemoryLocationRegistry();
  const bus = new MemoryBus();
  const host = createAgentHost(testHostOptions({ registry, bus, ...extra }));
  await host.start();
  const transport = createGrpcTransport({ baseUrl: `http://${host.address}` });
  return {
    host,
    registry,
    bus,
    transport,
    client: createClient(AgentHostService, transport),
    health: createClient(Health, transport),
  };
}

/** A CreateAgent request for `spec` in guild `guildId`. */
export function createRequest(
  guildId: string,
  spec: AgentSpec,
  guild: { defaultTopic?: string } = {},
): CreateAgentRequest {
  return create(CreateAgentRequestSchema, {
    guild: create(GuildSpecSchema, { id: guildId, name: `Guild ${guildId}`, ...guild }),
    agent: agentSpecToProto(spec),
  });
}

/** An agent spec of a fixture class. */
export function fixtureSpec(
  id: string,
  className: string,
  extra: Partial<AgentSpec> = {},
): AgentSpec {
  return { id, name: `Agent ${id}`, className: fixtureClass(className), ...extra };
}

/** The ConnectError a promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

export { childPids, expectNoLeakedProcesses, isRunning };
