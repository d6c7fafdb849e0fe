// The targets of this version, judged on the figures of a run, each next to an estimate of the
// best this machine allows for its figure, built from yardsticks of the same run: a miss of the
// code can then be told apart from a target out of reach here.
import { formatMs, type Figure, type LatencyFigure, type Target } from "./report.js";

/** What the targets need to know beyond the figures. */
export interface TargetSettings {
  /** The host lease of the failover run: no agent of a dead host moves before it runs out. */
  readonly hostLeaseMs: number;
  /** Redis's own time per bare EVALSHA and per commit, in µs; undefined when not measured. */
  readonly durableServerUs?: { readonly bareEvalsha: number; readonly commit: number };
  /** A bare IPC round trip to a forked process (p50, ms), measured beside the agent round trips. */
  readonly bareIpcMs?: number;
}

/** Each target with what the run measured for it, the best possible here, and whether it was met. */
export function evaluateTargets(
  figures: readonly Figure[],
  cores: number,
  settings: TargetSettings,
): Target[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const latencyOf = (id: string): LatencyFigure | undefined => {
    const f = byId.get(id);
    return f?.kind === "latency" ? f : undefined;
  };
  const vsLimit = (f: LatencyFigure): string =>
    `${f.ratio.p50.toFixed(2)}× (${formatMs(f.ms.p50)} vs ${formatMs(f.limit.ms.p50)})`;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const targets: Target[] = [];

  // A create is at least what any agent process costs (an agent module imports @guildhall/core)
  // plus one host call, made after the same quiet wait as each create.
  const core = latencyOf("spawn.core");
  const emptyCall = latencyOf("rpc.emptyAfterQuiet")?.ms.p50;
  const coldFloor =
    core === undefined || emptyCall === undefined
      ? undefined
      : (core.ms.p50 + emptyCall) / core.limit.ms.p50;
  for (const where of ["local", "redis"] as const) {
    const cold = latencyOf(`create.${where}.cold`);
    targets.push({
      target: `Cold create ≤ 1.3× bare fork (p50), ${where === "local" ? "local" : "Redis"} cluster`,
      figure: `create.${where}.cold`,
      measured: cold === undefined ? "not measured" : vsLimit(cold),
      bestPossible:
        coldFloor === undefined || core === undefined || emptyCall === undefined
          ? undefined
          : `${coldFloor.toFixed(2)}× (fork + import core ${formatMs(core.ms.p50)} + empty call after a quiet wait ${formatMs(emptyCall)}, over a bare fork ${formatMs(core.limit.ms.p50)})`,
      reachable: coldFloor === undefined ? undefined : coldFloor <= 1.3,
      met: cold === undefined ? undefined : cold.ratio.p50 <= 1.3,
    });
  }

  // A warm create is at least the process manager's start from its pool plus that host call.
  const warmSpawn = latencyOf("spawn.warm");
  const warmFloor =
    warmSpawn === undefined || emptyCall === undefined ? undefined : warmSpawn.ms.p50 + emptyCall;
  for (const where of ["local", "redis"] as const) {
    const warm = latencyOf(`create.${where}.warm`);
    targets.push({
      target: `Warm create ≤ 5 ms (p50), ${where === "local" ? "local" : "Redis"} cluster`,
      figure: `create.${where}.warm`,
      measured: warm === undefined ? "not measured" : formatMs(warm.ms.p50),
      bestPossible:
        warmFloor === undefined || warmSpawn === undefined || emptyCall === undefined
          ? undefined
          : `${formatMs(warmFloor)} (process manager alone ${formatMs(warmSpawn.ms.p50)} + empty call after a quiet wait ${formatMs(emptyCall)})`,
      reachable: warmFloor === undefined ? undefined : warmFloor <= 5,
      met: warm === undefined ? undefined : warm.ms.p50 <= 5,
    });
  }

  // A move stops the old copy before it starts the new one: at least a process's exit and a
  // create. Judged on the new copy's first answer; when moveAgent resolved (ready there) is shown
  // too.
  const move = latencyOf("move.answered");
  const moveReady = latencyOf("move.ready");
  const bareExit = latencyOf("move.stop")?.limit.ms.p50;
  const moveFloor =
    move === undefined || bareExit === undefined
      ? undefined
      : (bareExit + move.limit.ms.p50) / move.limit.ms.p50;
  targets.push({
    target: "Move ≤ 2× warm create (p50), Redis cluster, under a steady stream",
    figure: "move.answered",
    measured:
      move === undefined
        ? "not measured"
        : `${vsLimit(move)} to the new copy's first answer${moveReady === undefined ? "" : `; moveAgent resolved (ready there) at ${vsLimit(moveReady)}`}`,
    bestPossible:
      moveFloor === undefined || move === undefined || bareExit === undefined
        ? undefined
        : `${moveFloor.toFixed(2)}× (a bare child's exit ${formatMs(bareExit)} then the warm create ${formatMs(move.limit.ms.p50)}, same rounds, over the warm create: the old copy stops before the new one starts)`,
    reachable: moveFloor === undefined ? undefined : moveFloor <= 2,
    met: move === undefined ? undefined : move.ratio.p50 <= 2,
  });

  // Sleeping agents. A declare is one engine → host call and its registry and bus steps, so the
  // same number of empty host calls at the same concurrency bounds its rate.
  const declared = byId.get("sleep.declare");
  const declareRate = declared?.kind === "rate" ? declared : undefined;
  targets.push({
    target: "Declare lazy agents ≥ 500 agents/s, one host of a local cluster",
    figure: "sleep.declare",
    measured:
      declareRate === undefined ? "not measured" : `${declareRate.median.toFixed(0)} agents/s`,
    bestPossible:
      declareRate === undefined
        ? undefined
        : `${declareRate.limit.median.toFixed(0)} calls/s (${declareRate.limit.title})`,
    reachable: declareRate === undefined ? undefined : declareRate.limit.median >= 500,
    met: declareRate === undefined ? undefined : declareRate.median >= 500,
  });
  const perAgent = byId.get("sleep.bytesPerAgent");
  const bytes = perAgent?.kind === "memory" ? perAgent.mib * 2 ** 20 : undefined;
  targets.push({
    target: "A sleeping agent ≤ 20 KiB of its host's memory (local cluster: RSS growth per agent)",
    figure: "sleep.bytesPerAgent",
    measured: bytes === undefined ? "not measured" : `${(bytes / 1024).toFixed(1)} KiB`,
    bestPossible:
      bytes === undefined
        ? undefined
        : "no yardstick: what a process must keep per agent it watches has no bare equivalent",
    reachable: undefined,
    met: bytes === undefined ? undefined : bytes <= 20 * 1024,
  });
  // A wake starts a process from the warm pool as a warm create does, then delivers a message
  // and its reply; it skips the engine's registry steps and its call to the host.
  const wake = latencyOf("sleep.wake");
  const wakeFloor =
    wake === undefined || warmSpawn === undefined
      ? undefined
      : warmSpawn.ms.p50 / wake.limit.ms.p50;
  targets.push({
    target: "Wake ≤ 1.5× warm create (p50), local cluster",
    figure: "sleep.wake",
    measured: wake === undefined ? "not measured" : vsLimit(wake),
    bestPossible:
      wake === undefined || wakeFloor === undefined || warmSpawn === undefined
        ? undefined
        : `${wakeFloor.toFixed(2)}× (the process manager's warm spawn alone, ${formatMs(warmSpawn.ms.p50)}, over the warm create; a wake adds a delivery and a reply)`,
    reachable: wakeFloor === undefined ? undefined : wakeFloor <= 1.5,
    met: wake === undefined ? undefined : wake.ratio.p50 <= 1.5,
  });

  const lookup = latencyOf("lookup.registry");
  targets.push({
    target: "Lookup ≤ 1.5× bare GET (p50)",
    figure: "lookup.registry",
    measured: lookup === undefined ? "not measured" : vsLimit(lookup),
    bestPossible: lookup === undefined ? undefined : "1.00× (the GET itself)",
    reachable: lookup === undefined ? undefined : true,
    met: lookup === undefined ? undefined : lookup.ratio.p50 <= 1.5,
  });

  // A round trip between agents on two hosts is two hops (ping, then pong), each at least one
  // bare XADD → blocked XREAD and one exchange between a host and its agent process (the message
  // in, the handler's outcome out): at least a bare IPC round trip to a forked process.
  const roundTrip = latencyOf("messaging.agentRoundTrip");
  const ipcMs = settings.bareIpcMs;
  const roundTripFloor =
    roundTrip === undefined || ipcMs === undefined
      ? undefined
      : (roundTrip.limit.ms.p50 + ipcMs) / roundTrip.limit.ms.p50;
  targets.push({
    target: "Agent → agent → agent round trip ≤ 4× two bare stream hops (p50)",
    figure: "messaging.agentRoundTrip",
    measured:
      roundTrip === undefined
        ? "not measured"
        : `${roundTrip.ratio.p50.toFixed(2)}× (${formatMs(roundTrip.ms.p50)} vs 2 × ${formatMs(roundTrip.limit.ms.p50)})`,
    bestPossible:
      roundTripFloor === undefined || ipcMs === undefined || roundTrip === undefined
        ? undefined
        : `${roundTripFloor.toFixed(2)}× (per hop a bare hop ${formatMs(roundTrip.limit.ms.p50)} + a bare IPC round trip to a forked process ${formatMs(ipcMs)}; before the host's and the agent's own work and the commit)`,
    reachable: roundTripFloor === undefined ? undefined : roundTripFloor <= 4,
    met: roundTrip === undefined ? undefined : roundTrip.ratio.p50 <= 4,
  });

  // A relay does what the bare relay process does (read the inbox stream, write a reply entry),
  // through a host, an agent process and the commits that release its replies.
  const relayFigure = byId.get("relay.throughput");
  const relay = relayFigure?.kind === "rate" ? relayFigure : undefined;
  targets.push({
    target: "Agent relay throughput ≥ 0.5× a bare Redis Streams relay process (64 in flight)",
    figure: "relay.throughput",
    measured:
      relay === undefined
        ? "not measured"
        : `${relay.ratio.toFixed(2)}× (${Math.round(relay.median).toLocaleString("en-US")} vs ${Math.round(relay.limit.median).toLocaleString("en-US")} msg/s)`,
    bestPossible: relay === undefined ? undefined : "1.00× (the bare relay process itself)",
    reachable: relay === undefined ? undefined : true,
    met: relay === undefined ? undefined : relay.ratio >= 0.5,
  });

  // The dead host's agents count as gone when its lease runs out; then they start again.
  const failover = latencyOf("failover");
  const failoverFloor =
    failover === undefined ? undefined : settings.hostLeaseMs + failover.limit.ms.p50;
  targets.push({
    target: "Failover ≤ 6 s (p50)",
    figure: "failover",
    measured: failover === undefined ? "not measured" : seconds(failover.ms.p50),
    bestPossible:
      failover === undefined || failoverFloor === undefined
        ? undefined
        : `${seconds(failoverFloor)} (host lease ${seconds(settings.hostLeaseMs)} + ${failover.limit.title} ${seconds(failover.limit.ms.p50)})`,
    reachable: failoverFloor === undefined ? undefined : failoverFloor <= 6_000,
    met: failover === undefined ? undefined : failover.ms.p50 <= 6_000,
  });

  const throughput = byId.get("create.throughput");
  const rate = throughput?.kind === "rate" ? throughput : undefined;
  targets.push({
    target: `Create throughput ≥ 30 agents/s on ${cores} cores`,
    figure: "create.throughput",
    measured: rate === undefined ? "not measured" : `${rate.median.toFixed(1)} agents/s`,
    bestPossible:
      rate === undefined
        ? undefined
        : `${rate.limit.median.toFixed(1)} agents/s (${rate.limit.title})`,
    reachable: rate === undefined ? undefined : rate.limit.median >= 30,
    met: rate === undefined ? undefined : rate.median >= 30,
  });

  // Handling without a commit still publishes what the handler sent, one round trip; a commit
  // within two bare round trips therefore adds at most one. A commit is at least a round trip
  // plus what Redis spends running its script.
  const commit = latencyOf("durable.commit");
  const server = settings.durableServerUs;
  const commitFloor =
    commit === undefined || server === undefined
      ? undefined
      : (commit.limit.ms.p50 + (server.commit - server.bareEvalsha) / 1000) / commit.limit.ms.p50;
  targets.push({
    target: "Durable handle ≤ 1 extra Redis round trip: commit ≤ 2× bare EVALSHA (p50)",
    figure: "durable.commit",
    measured:
      commit === undefined
        ? "not measured"
        : `${commit.ratio.p50.toFixed(2)}× (commit ${formatMs(commit.ms.p50)} vs EVALSHA ${formatMs(commit.limit.ms.p50)})`,
    bestPossible:
      commitFloor === undefined || server === undefined
        ? undefined
        : `${commitFloor.toFixed(2)}× (the EVALSHA + Redis's extra time running the commit script, ${(server.commit - server.bareEvalsha).toFixed(0)} µs)`,
    reachable: commitFloor === undefined ? undefined : commitFloor <= 2,
    met: commit === undefined ? undefined : commit.ratio.p50 <= 2,
  });
  for (const [name, what] of [
    ["state", "state changed"],
    ["unchanged", "state unchanged"],
  ] as const) {
    const figure = byId.get(`durable.throughput.${name}`);
    const durable = figure?.kind === "rate" ? figure : undefined;
    targets.push({
      target: `Durable handling ≥ 0.5× non-durable (msg/s), ${what}`,
      figure: `durable.throughput.${name}`,
      measured:
        durable === undefined
          ? "not measured"
          : `${durable.ratio.toFixed(2)}× (${Math.round(durable.median).toLocaleString("en-US")} vs ${Math.round(durable.limit.median).toLocaleString("en-US")} msg/s without commits)`,
      bestPossible: durable === undefined ? undefined : "1.00× (handling without commits)",
      reachable: durable === undefined ? undefined : true,
      met: durable === undefined ? undefined : durable.ratio >= 0.5,
    });
  }
  return targets;
}
