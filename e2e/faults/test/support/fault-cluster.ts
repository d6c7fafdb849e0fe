// One scenario's cluster: a test network (a namespace per host when the machine allows it), a
// private redis-server on the network's gateway address, `guildhall host` processes of the built
// CLI on the nodes, and the engine side (registry, bus, engines) in this test process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RedisBus } from "@guildhall/bus-redis";
import type { AgentSpec, GuildSpec } from "@guildhall/core";
import { ClusterExecutionEngine, type ClusterExecutionEngineOptions } from "@guildhall/engine";
import { StaticDiscovery } from "@guildhall/placement";
import { RedisLocationRegistry } from "@guildhall/registry";
import {
  probeAgentsModule,
  probeClassName,
  startRedisServer,
  type RedisTestServer,
} from "@guildhall/testing";
import {
  createTestNetwork,
  type NetworkNode,
  type TestNetwork,
} from "../../../../tools/netns/test-network.js";
import { startHostProcess, type HostProcess } from "../../../../tools/test-support/host-process.js";
import { expectNoLeakedProcesses } from "../../../../tools/test-support/processes.js";
import { aTestFailed } from "./failures.js";

/** The fixture agents of this suite (an allowlist entry). */
export const FIXTURES = fileURLToPath(new URL("../../fixtures", import.meta.url));

/** A `guildhall host` process on its node. */
export interface ClusterHost {
  readonly process: HostProcess;
  readonly node: NetworkNode;
  readonly address: string;
  readonly pid: number;
  /** Where the host's JSON log lines go. */
  readonly logFile: string;
  /** The URL of its Prometheus metrics; undefined unless started with `metrics`. */
  readonly metricsUrl: string | undefined;
}

/** Settings of one host; unset fields keep the host's defaults. */
export interface HostSettings {
  readonly heartbeatMs?: number;
  readonly leaseMs?: number;
  readonly maxAgents?: number;
  /** The Redis the host uses, when not the cluster's own URL (e.g. through a proxy). */
  readonly redisUrl?: string;
  /** Serve `/metrics` (on a free port of the node; see `metricsUrl`). Default false. */
  readonly metrics?: boolean;
}

/** What {@link startFaultCluster} starts. */
export interface FaultClusterOptions {
  /** Names the scenario in printed lines and the guild ids. */
  readonly label: string;
  readonly hosts: number;
  readonly host?: HostSettings;
  /**
   * Run the cluster's Redis with an append-only file (`appendfsync always`), so a restart gets
   * back every acknowledged write. Default false: no persistence.
   */
  readonly appendOnlyRedis?: boolean;
}

/** A running scenario cluster. */
export interface FaultCluster {
  readonly label: string;
  readonly network: TestNetwork;
  readonly redis: RedisTestServer;
  readonly prefix: string;
  readonly registry: RedisLocationRegistry;
  readonly bus: RedisBus;
  /** The hosts started so far, killed ones included. */
  readonly hosts: ClusterHost[];
  /** Where the hosts' log lines go. */
  readonly logDir: string;
  /** Starts one more host on a node of its own. */
  startHost(settings?: HostSettings): Promise<ClusterHost>;
  /** An engine over every host started so far; closed with the cluster. */
  engine(options?: Partial<ClusterExecutionEngineOptions>): ClusterExecutionEngine;
  /** A guild with a unique id. */
  guild(agents?: AgentSpec[]): GuildSpec;
  /** Prints a line of the scenario's findings. */
  report(text: string): void;
  /**
   * Stops engines and hosts (SIGTERM, their agents with them), Redis, and removes the network;
   * fails if any process the cluster started is still running.
   */
  close(): Promise<void>;
}

/** An EchoAgent of @guildhall/testing (it answers pings). */
export function echoSpec(id: string, extra: Partial<AgentSpec> = {}): AgentSpec {
  return { id, name: `Agent ${id}`, className: probeClassName("EchoAgent"), ...extra };
}

/** Starts a scenario cluster; on failure, stops whatever it had started. */
export async function startFaultCluster(options: FaultClusterOptions): Promise<FaultCluster> {
  const label = options.label;
  const logDir = mkdtempSync(join(tmpdir(), `guildhall-faults-${label}-`));
  const network = await createTestNetwork();
  if (network.kind === "loopback") {
    console.log(
      `[faults:${label}] network namespaces are unavailable (${network.fallbackReason}); hosts run on loopback ports`,
    );
  }
  const hosts: ClusterHost[] = [];
  const engines: ClusterExecutionEngine[] = [];
  let redis: RedisTestServer | undefined;
  let registry: RedisLocationRegistry | undefined;
  let bus: RedisBus | undefined;
  const prefix = `gh-${label}:`;

  async function close(): Promise<void> {
    for (const engine of engines) await engine.shutdown().catch(() => undefined);
    // Undo faults a failed scenario left in place, so every host can stop cleanly.
    for (const host of hosts) {
      try {
        process.kill(host.pid, "SIGCONT");
      } catch {
        // Exited already.
      }
      await host.node.heal().catch(() => undefined);
    }
    redis?.resume();
    await Promise.all(hosts.map((h) => h.process.kill("SIGTERM").catch(() => undefined)));
    await bus?.close().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await network.destroy();
    if (aTestFailed()) console.log(`[faults:${label}] host logs kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
    // Every host, agent and redis-server this cluster started has exited.
    await expectNoLeakedProcesses();
  }

  try {
    redis = await startRedisServer({
      bind: network.gatewayIp,
      appendOnly: options.appendOnlyRedis === true,
    });
    const url = redis.url;
    registry = new RedisLocationRegistry({ url, prefix });
    bus = new RedisBus({ url, prefix });
    let started = 0;
    const startOn = async (node: NetworkNode, settings: HostSettings): Promise<ClusterHost> => {
      const logFile = join(logDir, `host-${started++}.log`);
      const hostProcess = await startHostProcess({
        redisUrl: settings.redisUrl ?? url,
        keyPrefix: prefix,
        agentModules: [probeAgentsModule, FIXTURES],
        bind: node.ip,
        commandPrefix: node.exec,
        processGroup: true,
        logFile,
        ...(settings.heartbeatMs !== undefined && { heartbeatMs: settings.heartbeatMs }),
        ...(settings.leaseMs !== undefined && { leaseMs: settings.leaseMs }),
        ...(settings.maxAgents !== undefined && { maxAgents: settings.maxAgents }),
        ...(settings.metrics === true && { metricsPort: 0 }),
      });
      const { metricsPort } = hostProcess;
      const host = {
        process: hostProcess,
        node,
        address: hostProcess.address,
        pid: hostProcess.pid,
        logFile,
        metricsUrl:
          metricsPort === undefined ? undefined : `http://${node.ip}:${metricsPort}/metrics`,
      };
      hosts.push(host);
      return host;
    };
    const cluster: FaultCluster = {
      label,
      network,
      redis,
      prefix,
      registry,
      bus,
      hosts,
      logDir,
      async startHost(settings = {}) {
        return startOn(await network.addNode(), settings);
      },
      engine(extra = {}) {
        const engine = new ClusterExecutionEngine({
          registry: registry!,
          bus: bus!,
          discovery: new StaticDiscovery(hosts.map((h) => h.address)),
          ...extra,
        });
        engines.push(engine);
        return engine;
      },
      guild(agents = []) {
        return { id: `${label}-${Math.random().toString(36).slice(2, 8)}`, name: label, agents };
      },
      report(text) {
        console.log(`[faults:${label}] ${text}`);
      },
      close,
    };
    const nodes: NetworkNode[] = [];
    for (let i = 0; i < options.hosts; i++) nodes.push(await network.addNode());
    await Promise.all(nodes.map((node) => startOn(node, options.host ?? {})));
    // Hosts started side by side; the order of their nodes is the one tests expect.
    hosts.sort((a, b) => nodes.indexOf(a.node) - nodes.indexOf(b.node));
    return cluster;
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
