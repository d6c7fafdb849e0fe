// The targets of this version, judged on the figures of a run.
import { formatMs, type Figure, type LatencyFigure, type Target } from "./report.js";

/** Each target with what the run measured for it and whether that meets it. */
export function evaluateTargets(figures: readonly Figure[], cores: number): Target[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const latencyOf = (id: string): LatencyFigure | undefined => {
    const f = byId.get(id);
    return f?.kind === "latency" ? f : undefined;
  };
  const vsLimit = (f: LatencyFigure): string =>
    `${f.ratio.p50.toFixed(2)}× (${formatMs(f.ms.p50)} vs ${formatMs(f.limit.ms.p50)})`;
  const targets: Target[] = [];
  for (const where of ["local", "redis"] as const) {
    const name = where === "local" ? "local" : "Redis";
    const cold = latencyOf(`create.${where}.cold`);
    targets.push({
      target: `Cold create ≤ 1.3× bare fork (p50), ${name} cluster`,
      figure: `create.${where}.cold`,
      measured: cold === undefined ? "not measured" : vsLimit(cold),
      met: cold === undefined ? undefined : cold.ratio.p50 <= 1.3,
    });
  }
  for (const where of ["local", "redis"] as const) {
    const name = where === "local" ? "local" : "Redis";
    const warm = latencyOf(`create.${where}.warm`);
    targets.push({
      target: `Warm create ≤ 5 ms (p50), ${name} cluster`,
      figure: `create.${where}.warm`,
      measured: warm === undefined ? "not measured" : formatMs(warm.ms.p50),
      met: warm === undefined ? undefined : warm.ms.p50 <= 5,
    });
  }
  const lookup = latencyOf("lookup.registry");
  targets.push({
    target: "Lookup ≤ 1.5× bare GET (p50)",
    figure: "lookup.registry",
    measured: lookup === undefined ? "not measured" : vsLimit(lookup),
    met: lookup === undefined ? undefined : lookup.ratio.p50 <= 1.5,
  });
  const failover = latencyOf("failover");
  targets.push({
    target: "Failover ≤ 6 s (p50)",
    figure: "failover",
    measured: failover === undefined ? "not measured" : `${(failover.ms.p50 / 1000).toFixed(1)} s`,
    met: failover === undefined ? undefined : failover.ms.p50 <= 6_000,
  });
  const throughput = byId.get("create.throughput");
  targets.push({
    target: `Create throughput ≥ 30 agents/s on ${cores} cores`,
    figure: "create.throughput",
    measured:
      throughput?.kind === "rate" ? `${throughput.median.toFixed(1)} agents/s` : "not measured",
    met: throughput?.kind === "rate" ? throughput.median >= 30 : undefined,
  });
  return targets;
}
