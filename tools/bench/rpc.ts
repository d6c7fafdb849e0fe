// Engine → host calls against an empty unary call to a trivial Connect server: what a call to an
// agent host costs beyond the HTTP/2 round trip itself. Same client stack as the engine's
// (connect-node gRPC transport, one HTTP/2 connection per server), calls interleaved in blocks.
import { fork } from "node:child_process";
import { once } from "node:events";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AgentHostService, Health } from "@guildhall/proto";
import { compiledFile } from "./paths.js";
import type { Teardown } from "./teardown.js";

const BLOCK = 100;

/** Starts the trivial health server (health-server.ts) as a child process; stopped by `teardown`. */
export async function startHealthServer(
  teardown: Teardown,
): Promise<{ pid: number; address: string }> {
  const child = fork(compiledFile("health-server.js"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  teardown.add("health server", async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  const [message] = (await once(child, "message")) as [{ port: number }];
  if (child.pid === undefined) throw new Error("the health server has no pid");
  return { pid: child.pid, address: `127.0.0.1:${message.port}` };
}

/** An empty unary call to the trivial server, over a connection of its own. */
export interface EmptyCall {
  /** One Health.Check. */
  call(): Promise<unknown>;
  close(): void;
}

/** A client of the trivial server with the engine's client stack, for {@link EmptyCall}s. */
export function emptyCallTo(address: string): EmptyCall {
  const baseUrl = `http://${address}`;
  const manager = new Http2SessionManager(baseUrl);
  const client = createClient(Health, createGrpcTransport({ baseUrl, sessionManager: manager }));
  return { call: () => client.check({}), close: () => manager.abort() };
}

/** Samples of {@link measureRpc}, in milliseconds, by call. */
export type RpcSamples = Record<"bareCheck" | "hostCheck" | "getAgentInfo", number[]>;

/**
 * `calls` of each, in interleaved blocks after 200 unmeasured ones: Health.Check on the trivial
 * server; Health.Check and GetAgentInfo (of a running agent) on an agent host.
 */
export async function measureRpc(
  bareAddress: string,
  hostAddress: string,
  agent: { guildId: string; agentId: string },
  calls: number,
): Promise<RpcSamples> {
  const managers: Http2SessionManager[] = [];
  const transport = (address: string) => {
    const baseUrl = `http://${address}`;
    const manager = new Http2SessionManager(baseUrl);
    managers.push(manager);
    return createGrpcTransport({ baseUrl, sessionManager: manager });
  };
  const bare = createClient(Health, transport(bareAddress));
  const hostTransport = transport(hostAddress);
  const hostHealth = createClient(Health, hostTransport);
  const host = createClient(AgentHostService, hostTransport);
  const samples: RpcSamples = { bareCheck: [], hostCheck: [], getAgentInfo: [] };
  const timers: [keyof RpcSamples, () => Promise<unknown>][] = [
    ["bareCheck", () => bare.check({})],
    ["hostCheck", () => hostHealth.check({})],
    ["getAgentInfo", () => host.getAgentInfo(agent)],
  ];
  try {
    const warmup = 200;
    for (let done = -warmup; done < calls; done += BLOCK) {
      for (const [name, call] of timers) {
        for (let i = 0; i < BLOCK; i++) {
          const start = performance.now();
          await call();
          if (done >= 0) samples[name].push(performance.now() - start);
        }
      }
    }
  } finally {
    for (const manager of managers) manager.abort();
  }
  return samples;
}
