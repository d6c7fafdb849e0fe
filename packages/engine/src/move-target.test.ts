import { GuildhallError } from "@guildhall/core";
import type { HostStatus } from "@guildhall/registry";
import { describe, expect, it } from "vitest";
import { checkMoveTarget } from "./move-target.js";

const agent = { guildId: "g", agentId: "a", from: "10.0.0.1:50051" };

function host(address: string, extra: Partial<HostStatus> = {}): HostStatus {
  return {
    address,
    maxAgents: 10,
    load: 1,
    draining: false,
    leaseMs: 3_000,
    agentTtlMs: 3_000,
    leaseRemainingMs: 3_000,
    ...extra,
  };
}

function refusal(check: () => void): GuildhallError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    return error as GuildhallError;
  }
  throw new Error("expected the move to be refused");
}

describe("checkMoveTarget", () => {
  const a = "10.0.0.1:50051";
  const b = "10.0.0.2:50051";
  const c = "10.0.0.3:50051";

  it("accepts a named host that is live, open and has room, or any such other host", () => {
    expect(() => checkMoveTarget(agent, b, [a, b], [host(a), host(b)])).not.toThrow();
    expect(() => checkMoveTarget(agent, undefined, [a, b], [host(a), host(b)])).not.toThrow();
  });

  it("refuses the host the agent runs on with invalid-argument", () => {
    const error = refusal(() => checkMoveTarget(agent, a, [a, b], [host(a), host(b)]));
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toContain(`already runs on host ${a}`);
  });

  it("refuses a host that is not discovered or not live with not-found, listing the live ones", () => {
    const unknown = refusal(() => checkMoveTarget(agent, c, [a, b], [host(a), host(b)]));
    expect(unknown.code).toBe("not-found");
    expect(unknown.message).toContain(`to host ${c}`);
    expect(unknown.message).toContain(`live hosts: ${a}, ${b}`);
    // Discovered but its lease lapsed.
    expect(refusal(() => checkMoveTarget(agent, b, [a, b], [host(a)])).code).toBe("not-found");
    // Live in the registry but not among this engine's hosts.
    expect(refusal(() => checkMoveTarget(agent, b, [a], [host(a), host(b)])).code).toBe(
      "not-found",
    );
  });

  it("refuses a draining host with unavailable and a full one with resource-exhausted", () => {
    const draining = refusal(() =>
      checkMoveTarget(agent, b, [a, b], [host(a), host(b, { draining: true })]),
    );
    expect(draining.code).toBe("unavailable");
    expect(draining.message).toContain("draining");
    const full = refusal(() =>
      checkMoveTarget(agent, b, [a, b], [host(a), host(b, { load: 2, maxAgents: 2 })]),
    );
    expect(full.code).toBe("resource-exhausted");
    expect(full.message).toContain("full (2 of 2 agents)");
  });

  it("without a named host, says why no other host can take the agent", () => {
    const alone = refusal(() => checkMoveTarget(agent, undefined, [a], [host(a)]));
    expect(alone.code).toBe("failed-precondition");
    expect(alone.message).toContain("no other live agent host");
    const draining = refusal(() =>
      checkMoveTarget(agent, undefined, [a, b], [host(a), host(b, { draining: true })]),
    );
    expect(draining.code).toBe("unavailable");
    const full = refusal(() =>
      checkMoveTarget(
        agent,
        undefined,
        [a, b, c],
        [host(a), host(b, { load: 1, maxAgents: 1 }), host(c, { draining: true })],
      ),
    );
    expect(full.code).toBe("resource-exhausted");
    expect(full.message).toContain(`every other agent host is full (${b})`);
  });
});
