// `guildhall dev <guild.yaml>`: the embedded default. Starts real agent hosts on this machine
// (startLocalCluster: no Redis, no Kubernetes), launches the guild on them, and shows its hosts,
// agents and messages until Ctrl-C or `--timeout`; then stops every agent and exits 0.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import {
  DEFAULT_TOPIC,
  inboxTopic,
  parseClassName,
  type GuildSpec,
  type JsonValue,
  type Message,
  errorMessage,
} from "@guildhall/core";
import type { HostClients } from "@guildhall/engine";
import type { LocalCluster } from "@guildhall/local";
import type { Command } from "commander";
import { action } from "../action.js";
import { parseDuration } from "../duration.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { resolveDashboardListen } from "../dashboard/listen-options.js";
import type { RunningDashboard } from "../dashboard/start-dashboard.js";
import { readGuildFile } from "../guild-file.js";
import { HOST_CALL_TIMEOUT_MS, agentStateName } from "../host-api.js";
import {
  createPlainView,
  createTerminalView,
  type LiveView,
  type ViewHost,
  type ViewMessage,
} from "../live-view.js";
import { launchGuild } from "../launch.js";
import { isInteractive } from "../output.js";
import { createProgress } from "../progress.js";
import { listenForStop } from "../signals.js";

/** The flags of `guildhall dev`, as commander parses them. */
export interface DevFlags {
  readonly hosts: string;
  readonly timeout?: string;
  readonly send?: readonly string[];
  readonly json?: boolean;
  readonly dashboard?: boolean;
  readonly dashboardPort?: string;
}

/** How often the view asks the hosts for their agents' states. */
const STATE_POLL_MS = 1_000;

function parseHosts(text: string): number {
  const hosts = Number(text);
  if (!/^\d+$/.test(text) || hosts < 1 || hosts > 64) {
    throw new CliError(
      `--hosts must be a whole number from 1 to 64, got ${JSON.stringify(text)}`,
      ExitCode.usage,
    );
  }
  return hosts;
}

function parsePayload(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new CliError(
      `--send takes a JSON payload, e.g. --send '{"text":"hello"}'; ${JSON.stringify(text)} is not JSON (${errorMessage(error)})`,
      ExitCode.usage,
    );
  }
}

/** Refuses agent modules that are not there, which usually means the example was not built. */
function checkModulesExist(spec: GuildSpec, file: string): void {
  spec.agents.forEach((agent, index) => {
    const { module } = parseClassName(agent.className);
    if (path.isAbsolute(module) && !existsSync(module)) {
      throw new CliError(
        `${file}: agents[${index}].className: the module ${module} does not exist; build the agents first (for the examples: npx nx run examples:build)`,
        ExitCode.badGuildFile,
      );
    }
  });
}

/** Every topic an agent of the guild can hear: what the view listens to. */
function topicsOf(spec: GuildSpec): string[] {
  const topics = new Set([spec.defaultTopic ?? DEFAULT_TOPIC]);
  for (const agent of spec.agents) {
    for (const topic of agent.additionalTopics ?? []) topics.add(topic);
    topics.add(inboxTopic(agent.id));
  }
  return [...topics];
}

async function hostStates(
  cluster: LocalCluster,
  api: HostClients,
  guildId: string,
): Promise<ViewHost[]> {
  return Promise.all(
    cluster.hosts.map(async ({ address }) => {
      try {
        const { agents } = await api
          .get(address)
          .listAgents({ guildId }, { timeoutMs: HOST_CALL_TIMEOUT_MS });
        return {
          address,
          reachable: true,
          agents: agents.map((a) => ({
            id: a.agentId,
            state: agentStateName(a.state),
            pid: a.pid,
          })),
        };
      } catch {
        return { address, reachable: false, agents: [] };
      }
    }),
  );
}

async function dev(file: string, flags: DevFlags): Promise<ExitCode> {
  const hostCount = parseHosts(flags.hosts);
  const timeoutMs =
    flags.timeout === undefined ? undefined : parseDuration(flags.timeout, "--timeout");
  const sends = (flags.send ?? []).map(parsePayload);
  const { spec, modules } = readGuildFile(file);
  checkModulesExist(spec, file);
  // The dashboard of `dev` is for this machine only: loopback, no token.
  const dashboardListen =
    flags.dashboard === true || flags.dashboardPort !== undefined
      ? resolveDashboardListen(
          { ...(flags.dashboardPort !== undefined && { port: flags.dashboardPort }) },
          {},
          "--dashboard-port",
        )
      : undefined;

  const stop = listenForStop();
  const progress = createProgress();
  // Loaded here rather than at the top: every other command starts faster without the host stack.
  const [{ startLocalCluster }, { Guild, HostClients }] = await Promise.all([
    import("@guildhall/local"),
    import("@guildhall/engine"),
  ]);
  // A token of our own, so the view can ask the hosts for their agents like any other client.
  const token = randomBytes(24).toString("base64url");
  progress.step(`starting ${hostCount} agent host${hostCount === 1 ? "" : "s"}`);
  let cluster: LocalCluster;
  try {
    cluster = await startLocalCluster({
      hosts: hostCount,
      agentModules: modules,
      token,
      hostOptions: { logLevel: "error" },
    });
  } catch (error) {
    progress.fail("the agent hosts did not start");
    stop.dispose();
    throw error;
  }
  progress.done(
    `${hostCount} agent host${hostCount === 1 ? "" : "s"}: ${cluster.hosts.map((h) => h.address).join(", ")}`,
  );

  const api = new HostClients({ token });
  const guild = new Guild(spec, cluster.engine, cluster.bus);
  let view: LiveView | undefined;
  let dashboard: RunningDashboard | undefined;
  const early: ViewMessage[] = [];
  let poller: NodeJS.Timeout | undefined;
  let stopping = false;
  let outcome: ExitCode = ExitCode.ok;
  try {
    // Listen before launching, so the first messages of starting agents are shown too.
    const client = guild.client("guildhall-dev", "guildhall dev");
    const show = (m: Message) => {
      const entry = { sender: m.sender.id, topic: m.topic, payload: m.payload };
      if (view === undefined) early.push(entry);
      else view.message(entry);
    };
    for (const topic of topicsOf(spec)) await client.subscribe(topic, show);
    if (dashboardListen !== undefined) {
      const { startDashboard } = await import("../dashboard/start-dashboard.js");
      const { agents, ...context } = spec;
      dashboard = await startDashboard({
        registry: cluster.registry,
        hosts: api,
        bus: cluster.bus,
        listen: dashboardListen,
        guild: { context, agents },
      });
      process.stdout.write(`dashboard on ${dashboard.url}\n`);
    }

    await launchGuild(guild, cluster.registry, progress, { signal: stop.signal });
    if (stop.signal.aborted) return outcome;
    view =
      isInteractive() && flags.json !== true
        ? createTerminalView(`guild ${spec.id} on ${hostCount} local hosts — Ctrl-C stops it`)
        : createPlainView(flags.json === true);
    view.note(
      `guild ${spec.id} is running ${spec.agents.length} agents on ${hostCount} hosts; Ctrl-C stops it` +
        (timeoutMs === undefined ? "" : `, or it stops by itself after ${flags.timeout}`),
    );
    view.hosts(await hostStates(cluster, api, spec.id));
    for (const entry of early.splice(0)) view.message(entry);
    for (const payload of sends) {
      // A client never hears its own messages; show what was sent all the same.
      const sent = await client.publish(spec.defaultTopic ?? DEFAULT_TOPIC, payload);
      show(sent);
    }

    const poll = async () => {
      const hosts = await hostStates(cluster, api, spec.id);
      if (stopping) return;
      view?.hosts(hosts);
      poller = setTimeout(() => void poll(), STATE_POLL_MS);
    };
    poller = setTimeout(() => void poll(), STATE_POLL_MS);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      stop.requested,
      new Promise<void>((resolve) => {
        if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  } finally {
    stopping = true;
    clearTimeout(poller);
    view?.close();
    await dashboard?.close();
    progress.step(`stopping the agents of guild ${spec.id}`);
    try {
      await guild.shutdown();
    } catch (error) {
      process.stderr.write(`guildhall dev: ${errorMessage(error)}\n`);
      outcome = ExitCode.failure;
    }
    api.close();
    await cluster.stop();
    progress.done("stopped every agent and host");
    stop.dispose();
  }
  return outcome;
}

/** Adds `guildhall dev` to `program`. */
export function registerDevCommand(program: Command): Command {
  return program
    .command("dev")
    .description(
      "Run a guild on agent hosts started on this machine (no Redis, no Kubernetes) and watch its agents and messages until Ctrl-C.",
    )
    .argument(
      "<guild-file>",
      "the guild file (YAML or JSON); module paths in className are relative to it",
    )
    .option(
      "--hosts <n>",
      "agent hosts to start, each its own server with agents as processes",
      "2",
    )
    .option(
      "--timeout <duration>",
      "stop by itself this long after the guild runs: 30s, 2m, 1500ms",
    )
    .option(
      "--send <json>",
      "publish this JSON payload on the guild's default topic once it runs (repeatable)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--json", "print one JSON object per line (agent states, messages) instead of the view")
    .option("--dashboard", "also serve the live web dashboard on 127.0.0.1 and print its URL")
    .option(
      "--dashboard-port <port>",
      "the dashboard's port, 8787 unless given (0 picks a free one); implies --dashboard",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall dev examples/hello/guild.yaml
  $ guildhall dev examples/hello/guild.yaml --hosts 3 --timeout 10s
  $ guildhall dev examples/pipeline/guild.yaml --send '{"text":"the quick brown fox"}'
  $ guildhall dev examples/hello/guild.yaml --dashboard

Without a terminal (a pipe, CI) the view is printed as plain lines, one per message or change.
Exit status: 0 stopped cleanly, 1 an agent did not start, 2 bad usage, 3 bad guild file.`,
    )
    .action(action("dev", dev));
}
