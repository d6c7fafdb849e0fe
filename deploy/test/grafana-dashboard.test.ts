// The Grafana dashboard reads only metrics a host exports: every metric its queries name is
// declared in the /metrics of a real agent host started here (a histogram's _bucket, _sum and
// _count series count as the histogram).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLiveHost, type LiveHost } from "./live-host.js";
import { isRecord } from "./manifests.js";
import { metricNames, variableQueryExpressions } from "./promql.js";

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly datasource: unknown;
}

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: unknown;
  readonly targets?: Target[];
  readonly gridPos: { h: number; w: number; x: number; y: number };
}

const dashboard = JSON.parse(
  readFileSync(new URL("../grafana/guildhall.json", import.meta.url), "utf8"),
) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

/** Every PromQL expression of the dashboard, with where it is. */
function expressions(): { where: string; expr: string }[] {
  const fromPanels = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ where: `${panel.title} ${t.refId}`, expr: t.expr })),
  );
  const fromVariables = dashboard.templating.list
    .filter((v) => v.type === "query")
    .flatMap((v) => {
      const query = isRecord(v.query) ? v.query["query"] : v.query;
      return variableQueryExpressions(String(query)).map((expr) => ({
        where: `variable ${v.name}`,
        expr,
      }));
    });
  return [...fromPanels, ...fromVariables];
}

/** Metric families a Prometheus text exposition declares, with their types. */
function declaredFamilies(exposition: string): Map<string, string> {
  return new Map(
    [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]),
  );
}

/** The family a series name belongs to: itself, or a histogram or summary it is a part of. */
function familyOf(series: string, families: ReadonlyMap<string, string>): string | undefined {
  if (families.has(series)) return series;
  const part = /^(.*)_(bucket|sum|count)$/.exec(series);
  const base = part?.[1];
  if (base === undefined) return undefined;
  const type = families.get(base);
  if (type === "histogram") return base;
  if (type === "summary" && part?.[2] !== "bucket") return base;
  return undefined;
}

describe("grafana/guildhall.json", () => {
  let live: LiveHost | undefined;
  let families = new Map<string, string>();

  beforeAll(async () => {
    live = await startLiveHost();
    const response = await fetch(`http://127.0.0.1:${live.host.metricsPort}/metrics`);
    expect(response.status).toBe(200);
    families = declaredFamilies(await response.text());
  });

  afterAll(async () => {
    await live?.close();
  });

  it("queries only metrics the host exports", () => {
    // The scrape is real: it declares the host's families and the process ones.
    expect(families.get("guildhall_host_agents_running")).toBe("gauge");
    expect(families.get("guildhall_host_rpc_duration_seconds")).toBe("histogram");
    const all = expressions();
    expect(all.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const { where, expr } of all) {
      const names = metricNames(expr);
      expect(names.length, `${where} reads a metric`).toBeGreaterThan(0);
      for (const name of names) {
        const family = familyOf(name, families);
        expect(family, `${where}: ${name} is exported`).toBeDefined();
        used.add(family ?? name);
      }
    }
    // Every host metric has a panel.
    const hostFamilies = [...families.keys()].filter((f) => f.startsWith("guildhall_host_"));
    expect(hostFamilies.length).toBeGreaterThan(10);
    expect(hostFamilies.filter((f) => !used.has(f))).toEqual([]);
  });

  it("is a dashboard Grafana can import", () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).not.toBe("");
    expect(dashboard.templating.list.find((v) => v.name === "datasource")).toMatchObject({
      type: "datasource",
      query: "prometheus",
    });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type === "row") continue;
      expect(panel.datasource, panel.title).toEqual(DATASOURCE);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, panel.title).toEqual(DATASOURCE);
      }
    }
  });

  it("finds the metrics of a query, not its functions, labels or ranges", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, op) (rate(guildhall_host_registry_op_duration_seconds_bucket{namespace="$namespace", op!~"a|b"}[$__rate_interval])))',
      ),
    ).toEqual(["guildhall_host_registry_op_duration_seconds_bucket"]);
    expect(
      metricNames("sum(a_total) / on (pod) group_left (x) max(b) or vector(0) unless c offset 5m"),
    ).toEqual(["a_total", "b", "c"]);
    expect(variableQueryExpressions('label_values(up{job="x"}, pod)')).toEqual(['up{job="x"}']);
    expect(familyOf("x_bucket", new Map([["x", "histogram"]]))).toBe("x");
    expect(familyOf("x_bucket", new Map([["x", "counter"]]))).toBeUndefined();
  });
});
