// /metrics scraped over HTTP returns every metric the README documents, and nothing undocumented.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createRequest, fixtureSpec, rejection, useTestHosts } from "./helpers.js";

const startHost = useTestHosts();

/** The metric names in the README's metrics table. */
function documentedMetrics(): string[] {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  return [...readme.matchAll(/^\| `(guildhall_host_[a-z_]+)`/gm)].map((m) => m[1] ?? "");
}

describe("/metrics", () => {
  it("serves the documented metrics", async () => {
    const t = await startHost({ processMetrics: true });
    await t.client.createAgent(createRequest("g1", fixtureSpec("a", "Echo")));
    await rejection(t.client.createAgent(createRequest("g1", fixtureSpec("a", "Echo"))));
    await t.client.createAgent(createRequest("g1", fixtureSpec("moved", "Echo")));
    await t.client.stopAgent({ guildId: "g1", agentId: "moved", keepState: true });

    const port = t.host.metricsPort;
    expect(port).toBeGreaterThan(0);
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();

    const served = [...text.matchAll(/^# HELP (guildhall_host_[a-z_]+) /gm)].map((m) => m[1]);
    const documented = documentedMetrics();
    expect(documented.length).toBeGreaterThan(10);
    expect([...served].sort()).toEqual([...documented].sort());

    expect(text).toContain('guildhall_host_agents_running{guild_id="g1"} 1');
    expect(text).toContain('guildhall_host_agent_create_errors_total{code="already_exists"} 1');
    expect(text).toContain("guildhall_host_agent_create_duration_seconds_count 2");
    expect(text).toContain('guildhall_host_agents_handed_off_total{guild_id="g1"} 1');
    expect(text).toMatch(
      /guildhall_host_rpc_handled_total\{method="AgentHostService\/CreateAgent",code="ok"\} 2/,
    );
    expect(text).toMatch(
      /guildhall_host_registry_op_duration_seconds_count\{op="register_host",result="ok"\} 1/,
    );
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);

    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});
