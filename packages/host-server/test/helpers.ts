// Shared by the integration tests: hosts on free ports with generated clients, spec builders,
// process accounting from /proc, and waits bounded by deadlines (never fixed sleeps).
import { readdirSync, readFileSync } from "node:fs";
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
import { expect, inject } from "vitest";
// Brings in the typing of inject("redisUrl") from the global setup that provides it.
import type {} from "../../../tools/redis/global-setup.js";
import {
  agentSpecToProto,
  createAgentHost,
  type AgentHost,
  type AgentHostOptions,
} from "../src/index.js";

/** The shared test Redis of the global setup (a private redis-server, or REDIS_URL). */
export function redisUrl(): string {
  return inject("redisUrl");
}

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

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** Live processes whose parent is `parent` (default: this test process). */
export function childPids(parent = process.pid): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (stat?.ppid === parent && isRunning(pid)) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** Whether `pid` is a live process (zombies count as gone). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** Polls `probe` until it returns something other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why =
        lastError === undefined
          ? ""
          : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Fails if processes started by this test process are still running, ignoring `expected`. */
export async function expectNoLeakedProcesses(expected: readonly number[] = []): Promise<void> {
  // Processes being reaped right now get a moment; a real leak stays.
  const leaked = await waitFor(
    "agent processes to exit",
    () => {
      const left = childPids().filter((pid) => !expected.includes(pid));
      return left.length === 0 ? [] : false;
    },
    5_000,
  ).catch(() => childPids().filter((pid) => !expected.includes(pid)));
  expect(leaked, "processes leaked by the test").toEqual([]);
}
