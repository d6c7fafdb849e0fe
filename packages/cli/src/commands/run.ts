// `guildhall run <guild.yaml>`: launches a guild on a real cluster (agent hosts registered in a
// Redis location registry, found through a static list or Kubernetes EndpointSlices) and exits
// once every agent is ready. The agents keep running: they belong to the cluster, and `guildhall
// agents stop` or an application's engine stops them.
import { errorMessage } from "@guildhall/core";
import { ClusterExecutionEngine, Guild } from "@guildhall/engine";
import { KubernetesDiscovery, StaticDiscovery, type HostDiscovery } from "@guildhall/placement";
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, connectCluster, type ClusterFlags } from "../cluster.js";
import { parseDuration } from "../duration.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { readGuildFile } from "../guild-file.js";
import { launchGuild } from "../launch.js";
import { printJson, renderTable } from "../output.js";
import { createProgress } from "../progress.js";
import { listenForStop } from "../signals.js";

/** The flags of `guildhall run`, as commander parses them. */
export interface RunFlags extends ClusterFlags {
  readonly hosts?: string;
  readonly k8s?: string;
  readonly timeout?: string;
  readonly json?: boolean;
  readonly lazy?: boolean;
}

/** How long Kubernetes discovery may take to list the service's endpoints. */
const DISCOVERY_TIMEOUT_MS = 15_000;

function discoveryOf(flags: RunFlags, registered: readonly string[]): HostDiscovery {
  if (flags.hosts !== undefined && flags.k8s !== undefined) {
    throw new CliError("give either --hosts or --k8s, not both", ExitCode.usage);
  }
  if (flags.k8s !== undefined) {
    const match = /^([a-z0-9-]+)\/([a-z0-9-]+)(?::(\d+))?$/.exec(flags.k8s);
    if (match === null) {
      throw new CliError(
        `--k8s must be <namespace>/<service>[:port], e.g. --k8s guildhall/guildhall-host, got ${JSON.stringify(flags.k8s)}`,
        ExitCode.usage,
      );
    }
    const [, namespace = "", service = "", port] = match;
    return new KubernetesDiscovery({
      namespace,
      service,
      ...(port !== undefined && { port: Number(port) }),
    });
  }
  if (flags.hosts !== undefined) {
    const addresses = flags.hosts
      .split(",")
      .map((a) => a.trim())
      .filter((a) => a !== "");
    if (addresses.length === 0) {
      throw new CliError(
        "--hosts must list host addresses: --hosts 10.0.0.7:50051,10.0.0.8:50051",
        ExitCode.usage,
      );
    }
    return new StaticDiscovery(addresses);
  }
  return new StaticDiscovery(registered);
}

async function ready(discovery: HostDiscovery): Promise<readonly string[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      discovery.ready(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${DISCOVERY_TIMEOUT_MS / 1000} s`)),
          DISCOVERY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    throw new CliError(
      `cannot discover agent hosts (${errorMessage(error)}): with --k8s, check the kubeconfig (or in-cluster service account) and that it may list EndpointSlices`,
      ExitCode.unreachable,
    );
  } finally {
    clearTimeout(timer);
  }
  return discovery.hosts();
}

async function run(file: string, flags: RunFlags): Promise<void> {
  const timeoutMs =
    flags.timeout === undefined ? undefined : parseDuration(flags.timeout, "--timeout");
  const { spec } = readGuildFile(file);
  const progress = createProgress();
  progress.step("connecting to the cluster");
  const cluster = await connectCluster(flags).catch((error: unknown) => {
    progress.fail("cannot reach the cluster");
    throw error;
  });
  const stop = listenForStop();
  let discovery: HostDiscovery | undefined;
  let engine: ClusterExecutionEngine | undefined;
  try {
    const registered = (await cluster.registry.listHosts()).map((h) => h.address);
    discovery = discoveryOf(flags, registered);
    const found = await ready(discovery);
    const live = found.filter((address) => registered.includes(address));
    if (live.length === 0) {
      const where = `Redis ${cluster.redisLabel} (key prefix ${flags.keyPrefix ?? process.env["GUILDHALL_KEY_PREFIX"] ?? "gh:"})`;
      throw new CliError(
        found.length === 0
          ? `no agent hosts found: none is registered in ${where}; start hosts with \`guildhall host\` pointed at the same Redis and key prefix`
          : `found ${found.join(", ")}, but none of them is registered in ${where}: start them with the same GUILDHALL_REDIS_URL and GUILDHALL_KEY_PREFIX`,
        ExitCode.unreachable,
      );
    }
    progress.done(`${live.length} agent host${live.length === 1 ? "" : "s"}: ${live.join(", ")}`);
    // A command line is gone in a moment: healing is the job of long-lived engines.
    engine = new ClusterExecutionEngine({
      registry: cluster.registry,
      discovery,
      reconcile: false,
      ...cluster.hostAccess,
    });
    const guild = new Guild(spec, engine);
    const lazy = flags.lazy === true;
    const placements = await launchGuild(guild, cluster.registry, progress, {
      signal: stop.signal,
      ...(timeoutMs !== undefined && { timeoutMs }),
      lazy,
    });
    const agents = spec.agents.map((a) => ({
      id: a.id,
      name: a.name,
      host: placements.get(a.id) ?? "",
    }));
    const summary = lazy
      ? `guild ${spec.id} has ${agents.length} agents asleep: each starts on its first message or timer`
      : `guild ${spec.id} runs ${agents.length} agents`;
    if (flags.json === true) {
      printJson({ guild: { id: spec.id, name: spec.name }, agents });
    } else {
      process.stdout.write(
        `${renderTable(
          ["agent", "name", "host"],
          agents.map((a) => [a.id, a.name, a.host]),
        )}\n${summary}; see them with \`guildhall agents ls --guild ${spec.id}\`\n`,
      );
    }
  } finally {
    // The agents stay: they belong to the cluster, not to this command.
    await engine?.shutdown().catch(() => undefined);
    await discovery?.close().catch(() => undefined);
    await cluster.close();
    stop.dispose();
  }
}

/** Adds `guildhall run` to `program`. */
export function registerRunCommand(program: Command): Command {
  const command = program
    .command("run")
    .description(
      "Launch a guild on a cluster of agent hosts and exit once every agent is ready; the agents keep running.",
    )
    .argument("<guild-file>", "the guild file (YAML or JSON)");
  addClusterOptions(command);
  return command
    .option(
      "--hosts <list>",
      "comma-separated host addresses to place on (default: every registered host)",
    )
    .option(
      "--k8s <namespace/service>",
      "place on the ready endpoints of this Kubernetes service (its port named grpc, or :port)",
    )
    .option("--timeout <duration>", "how long each agent may take to become ready (default: 60s)")
    .option(
      "--lazy",
      "declare the agents without starting them: each starts on its first message or timer",
    )
    .option("--json", "print the placed agents as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall run guild.yaml --redis redis://redis:6379 --hosts 10.0.0.7:50051,10.0.0.8:50051
  $ guildhall run guild.yaml --redis redis://redis.guildhall:6379 --k8s guildhall/guildhall-host
  $ GUILDHALL_REDIS_URL=redis://localhost:6379 guildhall run guild.yaml --json
  $ guildhall run guild.yaml --redis redis://redis:6379 --lazy

className modules must be installed on the hosts and allowed by their GUILDHALL_AGENT_MODULES;
a path relative to the guild file is made absolute here, so it must exist at that path on the hosts.
Exit status: 0 every agent ready (or declared, with --lazy), 1 an agent did not start,
2 bad usage, 3 bad guild file, 4 Redis or the hosts cannot be reached.`,
    )
    .action(action("run", run));
}
