// The acceptance of the production setup: the whole execution-engine contract against two
// `guildhall host` processes sharing a real redis-server, driven by a ClusterExecutionEngine in
// this process with a RedisLocationRegistry and a RedisBus.
import { randomUUID } from "node:crypto";
import { RedisBus } from "@guildhall/bus-redis";
import { ClusterExecutionEngine } from "@guildhall/engine";
import { StaticDiscovery } from "@guildhall/placement";
import { RedisLocationRegistry } from "@guildhall/registry";
import {
  describeExecutionEngineContract,
  probeAgentsModule,
  testRedisUrl,
} from "@guildhall/testing";
import { startHostProcess } from "./helpers.js";

describeExecutionEngineContract(
  "ClusterExecutionEngine on Redis with 2 guildhall host processes",
  async () => {
    const url = testRedisUrl();
    // Each setup gets a cluster of its own on the shared Redis.
    const prefix = `contract-${randomUUID().slice(0, 8)}:`;
    const hosts = await Promise.all(
      [0, 1].map(() =>
        startHostProcess({ redisUrl: url, keyPrefix: prefix, agentModules: [probeAgentsModule] }),
      ),
    );
    const registry = new RedisLocationRegistry({ url, prefix });
    const bus = new RedisBus({ url, prefix });
    const engine = new ClusterExecutionEngine({
      registry,
      bus,
      discovery: new StaticDiscovery(hosts.map((h) => h.address)),
    });
    return {
      engine,
      bus,
      teardown: async () => {
        await Promise.all(hosts.map((h) => h.kill("SIGTERM")));
        await bus.close();
        await registry.close();
      },
    };
  },
);
