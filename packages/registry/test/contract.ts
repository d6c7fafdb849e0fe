// The contract every LocationRegistry keeps, as one suite run against each implementation. Time
// is only ever waited on by polling with a deadline, with short leases and TTLs.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { waitFor } from "@guildhall/testing";
import type { HostRegistration, LocationRegistry } from "../src/index.js";
import { agentSpec } from "./helpers.js";

/** One test's registry: clients of the same state, and their cleanup. */
export interface RegistryHarness {
  /** A client of the test's registry; all clients of one harness see the same state. */
  open(): LocationRegistry;
  /** Closes every client and removes what the test stored. */
  dispose(): Promise<void>;
}

const SHORT_MS = 200;
const LONG_MS = 60_000;

async function expectError(promise: Promise<unknown>, code: string): Promise<GuildhallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuildhallError);
  expect((error as GuildhallError).code).toBe(code);
  return error as GuildhallError;
}

function host(address: string, extra: Partial<HostRegistration> = {}): HostRegistration {
  return { address, maxAgents: 100, leaseMs: LONG_MS, agentTtlMs: LONG_MS, ...extra };
}

/** Defines the contract suite for one implementation. */
export function describeLocationRegistryContract(
  name: string,
  createHarness: () => RegistryHarness | Promise<RegistryHarness>,
): void {
  describe(`${name}: LocationRegistry contract`, () => {
    let harness: RegistryHarness;
    let registry: LocationRegistry;

    beforeEach(async () => {
      harness = await createHarness();
      registry = harness.open();
    });
    afterEach(async () => {
      await harness.dispose();
    });

    describe("hosts", () => {
      it("keeps IPv6 and same-hostname addresses apart, exactly as given", async () => {
        const addresses = ["[::1]:50051", "[::1]:50052", "host-a:1", "host-a:2", "10.0.0.7:50051"];
        for (const [i, address] of addresses.entries()) {
          await registry.registerHost(host(address, { maxAgents: 10 + i }));
        }
        for (const [i, address] of addresses.entries()) {
          await registry.registerAgent({
            guildId: "g1",
            spec: agentSpec(`agent-${i}`),
            hostAddress: address,
          });
        }
        await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("extra"),
          hostAddress: "[::1]:50052",
        });

        const hosts = await registry.listHosts();
        expect(hosts.map((h) => h.address)).toEqual([...addresses].sort());
        expect(hosts.find((h) => h.address === "[::1]:50051")).toEqual({
          address: "[::1]:50051",
          maxAgents: 10,
          load: 1,
          draining: false,
          leaseMs: LONG_MS,
          agentTtlMs: LONG_MS,
          leaseRemainingMs: expect.any(Number) as number,
        });
        expect(await registry.getHostLoad("[::1]:50052")).toBe(2);
        expect(await registry.getHostLoad("host-a:1")).toBe(1);
        expect(await registry.getHostLoad("host-a:2")).toBe(1);
        expect(await registry.getHostLoad("host-a")).toBe(0);
        expect((await registry.getLocation("g1", "agent-1"))?.hostAddress).toBe("[::1]:50052");
        expect((await registry.getLocation("g1", "agent-3"))?.hostAddress).toBe("host-a:2");
        expect(await registry.getHost("[::1]")).toBeUndefined();
      });

      it("makes a host whose lease lapsed invisible, with its agents, and its load zero", async () => {
        await registry.registerHost(host("10.0.0.1:1", { leaseMs: SHORT_MS }));
        await registry.registerHost(host("10.0.0.2:1"));
        await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("a"),
          hostAddress: "10.0.0.1:1",
        });
        await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("b"),
          hostAddress: "10.0.0.2:1",
        });

        await waitFor(
          async () => {
            expect(await registry.getLocation("g1", "a")).toBeUndefined();
            return true;
          },
          { description: "the lapsed host's agent to vanish" },
        );
        expect(await registry.getAgent("g1", "a")).toBeUndefined();
        expect(await registry.getHostLoad("10.0.0.1:1")).toBe(0);
        expect(await registry.getHost("10.0.0.1:1")).toBeUndefined();
        expect((await registry.listHosts()).map((h) => h.address)).toEqual(["10.0.0.2:1"]);
        expect((await registry.listGuildAgents("g1")).map((a) => a.agentId)).toEqual(["b"]);
        expect(await registry.heartbeat("10.0.0.1:1")).toEqual({ status: "unknown-host" });
        await expectError(
          registry.registerAgent({
            guildId: "g1",
            spec: agentSpec("c"),
            hostAddress: "10.0.0.1:1",
          }),
          "failed-precondition",
        );
      });

      it("tells how much of a host's lease is left, which a heartbeat restores", async () => {
        await registry.registerHost(host("h:1"));
        const fresh = (await registry.getHost("h:1"))?.leaseRemainingMs;
        expect(fresh).toBeGreaterThan(0);
        expect(fresh).toBeLessThanOrEqual(LONG_MS);
        let left = LONG_MS;
        // Far enough below the fresh lease that a renewal read in the same millisecond tells.
        await waitFor(
          async () => {
            left = (await registry.listHosts())[0]?.leaseRemainingMs ?? LONG_MS;
            expect(left).toBeLessThan((fresh ?? 0) - 50);
            return true;
          },
          { description: "the lease to run down" },
        );
        expect((await registry.heartbeat("h:1")).status).toBe("ok");
        expect((await registry.getHost("h:1"))?.leaseRemainingMs).toBeGreaterThan(left);
      });

      it("caps the agent TTL at the lease: a location never outlives its host", async () => {
        await registry.registerHost(host("h:1", { leaseMs: 30_000, agentTtlMs: LONG_MS }));
        await registry.registerHost(host("h:2", { leaseMs: 30_000, agentTtlMs: 1_000 }));
        expect((await registry.getHost("h:1"))?.agentTtlMs).toBe(30_000);
        expect((await registry.getHost("h:2"))?.agentTtlMs).toBe(1_000);
      });

      it("removes a re-registered host's earlier agents, so a restarted host leaves no ghosts", async () => {
        await registry.registerHost(host("h:1"));
        await registry.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
        await registry.registerHost(host("h:1"));
        expect(await registry.getLocation("g1", "a")).toBeUndefined();
        expect(await registry.getHostLoad("h:1")).toBe(0);
        expect(await registry.listGuildAgents("g1")).toEqual([]);
      });

      it("deregisters a host with its agents but not agents that moved away", async () => {
        await registry.registerHost(host("h:1"));
        await registry.registerHost(host("h:2"));
        for (const id of ["a", "b", "c"]) {
          await registry.registerAgent({ guildId: "g1", spec: agentSpec(id), hostAddress: "h:1" });
        }
        await registry.registerAgent({ guildId: "g1", spec: agentSpec("c"), hostAddress: "h:2" });

        expect(await registry.deregisterHost("h:1")).toBe(2);
        expect(await registry.getLocation("g1", "a")).toBeUndefined();
        expect((await registry.getLocation("g1", "c"))?.hostAddress).toBe("h:2");
        expect(await registry.getHost("h:1")).toBeUndefined();
        expect((await registry.listHosts()).map((h) => h.address)).toEqual(["h:2"]);
        expect(await registry.deregisterHost("h:1")).toBe(0);
      });

      it("refuses registrations at a draining host until it is taken back", async () => {
        await registry.registerHost(host("h:1"));
        expect(await registry.setHostDraining("h:1", true)).toBe(true);
        expect((await registry.getHost("h:1"))?.draining).toBe(true);
        await expectError(
          registry.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" }),
          "unavailable",
        );
        expect(await registry.setHostDraining("h:1", false)).toBe(true);
        await registry.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
        expect(await registry.setHostDraining("nobody:1", true)).toBe(false);
        expect(await registry.getHost("nobody:1")).toBeUndefined();
      });

      it("refuses registrations beyond a host's capacity, counting a re-registration once", async () => {
        await registry.registerHost(host("h:1", { maxAgents: 1 }));
        await registry.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
        await registry.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
        const error = await expectError(
          registry.registerAgent({ guildId: "g1", spec: agentSpec("b"), hostAddress: "h:1" }),
          "resource-exhausted",
        );
        expect(error.message).toContain("h:1");
        expect(await registry.getHostLoad("h:1")).toBe(1);
      });
    });

    describe("agents", () => {
      beforeEach(async () => {
        await registry.registerHost(host("10.0.0.7:50051"));
        await registry.registerHost(host("[::1]:50051"));
      });

      it("registers an agent with its full spec and a strictly increasing epoch", async () => {
        const spec = agentSpec("writer", {
          description: "writes",
          properties: { model: "m", nested: { depth: [1, 2] } },
          additionalTopics: ["news"],
          listenToDefaultTopic: false,
          restartPolicy: { mode: "on-failure", maxRestarts: 3, backoffMs: 100 },
          resources: { memoryMb: 256 },
        });
        const first = await registry.registerAgent({
          guildId: "g1",
          spec,
          hostAddress: "10.0.0.7:50051",
        });
        expect(first.previous).toBeUndefined();
        expect(await registry.getLocation("g1", "writer")).toEqual({
          guildId: "g1",
          agentId: "writer",
          hostAddress: "10.0.0.7:50051",
          epoch: first.epoch,
        });
        expect(await registry.getAgent("g1", "writer")).toEqual({
          guildId: "g1",
          agentId: "writer",
          hostAddress: "10.0.0.7:50051",
          epoch: first.epoch,
          spec,
        });
        const again = await registry.registerAgent({
          guildId: "g1",
          spec,
          hostAddress: "10.0.0.7:50051",
        });
        expect(again.epoch).toBeGreaterThan(first.epoch);
        expect(again.previous).toEqual({ hostAddress: "10.0.0.7:50051", epoch: first.epoch });
        expect(await registry.getHostLoad("10.0.0.7:50051")).toBe(1);
        expect(await registry.getLocation("g1", "nobody")).toBeUndefined();
      });

      it("moves an agent between hosts atomically, and tells the old host", async () => {
        const onA = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "10.0.0.7:50051",
        });
        const onB = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "[::1]:50051",
        });
        expect(onB.epoch).toBeGreaterThan(onA.epoch);
        expect(onB.previous).toEqual({ hostAddress: "10.0.0.7:50051", epoch: onA.epoch });
        expect(await registry.getHostLoad("10.0.0.7:50051")).toBe(0);
        expect(await registry.getHostLoad("[::1]:50051")).toBe(1);
        expect(
          (await registry.listGuildAgents("g1")).map((a) => [a.agentId, a.hostAddress]),
        ).toEqual([["x", "[::1]:50051"]]);

        expect(await registry.heartbeat("10.0.0.7:50051")).toEqual({
          status: "ok",
          renewed: 0,
          lost: [{ guildId: "g1", agentId: "x", epoch: onA.epoch, reason: "moved" }],
        });
        // Reported once.
        expect(await registry.heartbeat("10.0.0.7:50051")).toEqual({
          status: "ok",
          renewed: 0,
          lost: [],
        });
        expect(await registry.heartbeat("[::1]:50051")).toEqual({
          status: "ok",
          renewed: 1,
          lost: [],
        });
      });

      it("rejects a stale epoch: the old host can neither delete nor refresh the new location", async () => {
        await registry.registerHost(host("h:old"));
        await registry.registerHost(host("h:new", { agentTtlMs: SHORT_MS }));
        const old = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "h:old",
        });
        const moved = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "h:new",
        });

        expect(await registry.deregisterAgent("g1", "x", old.epoch)).toBe("stale-epoch");
        expect(await registry.getLocation("g1", "x")).toEqual({
          guildId: "g1",
          agentId: "x",
          hostAddress: "h:new",
          epoch: moved.epoch,
        });
        // The old host heartbeats on; the new host does not. Were the old host's heartbeat to
        // renew the agent, the location would never expire.
        await waitFor(
          async () => {
            const beat = await registry.heartbeat("h:old");
            expect(beat.status).toBe("ok");
            expect(await registry.getLocation("g1", "x")).toBeUndefined();
            return true;
          },
          { description: "the moved agent's location to expire" },
        );
        expect(await registry.heartbeat("h:new")).toEqual({
          status: "ok",
          renewed: 0,
          lost: [{ guildId: "g1", agentId: "x", epoch: moved.epoch, reason: "expired" }],
        });
      });

      it("deregisters only under the current epoch", async () => {
        const { epoch } = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "10.0.0.7:50051",
        });
        expect(await registry.deregisterAgent("g1", "x", epoch + 1)).toBe("stale-epoch");
        expect(await registry.deregisterAgent("g1", "x", epoch)).toBe("deregistered");
        expect(await registry.deregisterAgent("g1", "x", epoch)).toBe("not-found");
        expect(await registry.getLocation("g1", "x")).toBeUndefined();
        expect(await registry.getHostLoad("10.0.0.7:50051")).toBe(0);
        expect(await registry.listGuildAgents("g1")).toEqual([]);
        expect(await registry.heartbeat("10.0.0.7:50051")).toEqual({
          status: "ok",
          renewed: 0,
          lost: [],
        });
      });

      it("expires an agent whose TTL lapses without a heartbeat, and reports it once", async () => {
        await registry.registerHost(host("h:ttl", { agentTtlMs: SHORT_MS }));
        const { epoch } = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "h:ttl",
        });
        await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("y"),
          hostAddress: "10.0.0.7:50051",
        });
        await waitFor(
          async () => {
            expect(await registry.getLocation("g1", "x")).toBeUndefined();
            return true;
          },
          { description: "the agent's TTL to lapse" },
        );
        expect((await registry.listGuildAgents("g1")).map((a) => a.agentId)).toEqual(["y"]);
        expect(await registry.heartbeat("h:ttl")).toEqual({
          status: "ok",
          renewed: 0,
          lost: [{ guildId: "g1", agentId: "x", epoch, reason: "expired" }],
        });
        expect(await registry.getHostLoad("h:ttl")).toBe(0);
        expect(await registry.heartbeat("h:ttl")).toEqual({ status: "ok", renewed: 0, lost: [] });
      });

      it("renews every agent of a host in one heartbeat", async () => {
        for (let i = 0; i < 25; i++) {
          await registry.registerAgent({
            guildId: i % 2 === 0 ? "g1" : "g2",
            spec: agentSpec(`a${i}`),
            hostAddress: "10.0.0.7:50051",
          });
        }
        expect(await registry.heartbeat("10.0.0.7:50051")).toEqual({
          status: "ok",
          renewed: 25,
          lost: [],
        });
        expect(await registry.heartbeat("nobody:1")).toEqual({ status: "unknown-host" });
      });

      it("keeps guilds apart: the same agent id in two guilds is two agents", async () => {
        const one = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("echo", { name: "Echo" }),
          hostAddress: "10.0.0.7:50051",
        });
        const two = await registry.registerAgent({
          guildId: "g2",
          spec: agentSpec("echo", { name: "Echo" }),
          hostAddress: "[::1]:50051",
        });
        expect(two.previous).toBeUndefined();
        expect((await registry.getLocation("g1", "echo"))?.hostAddress).toBe("10.0.0.7:50051");
        expect((await registry.getLocation("g2", "echo"))?.hostAddress).toBe("[::1]:50051");
        expect((await registry.listGuildAgents("g1")).map((a) => a.guildId)).toEqual(["g1"]);
        expect((await registry.findAgentsByName("g2", "Echo")).map((a) => a.guildId)).toEqual([
          "g2",
        ]);

        expect(await registry.deregisterAgent("g1", "echo", one.epoch)).toBe("deregistered");
        expect(await registry.getLocation("g1", "echo")).toBeUndefined();
        expect((await registry.getLocation("g2", "echo"))?.epoch).toBe(two.epoch);
        expect(await registry.listGuildAgents("g1")).toEqual([]);
        expect(await registry.listGuildAgents("g3")).toEqual([]);
      });

      it("lists a guild with full specs and finds agents by name", async () => {
        const specs = [
          agentSpec("b", { name: "Scout", properties: { n: 2 } }),
          agentSpec("a", { name: "Scout", properties: { n: 1 } }),
          agentSpec("c", { name: "Judge" }),
        ];
        for (const spec of specs) {
          await registry.registerAgent({ guildId: "g1", spec, hostAddress: "10.0.0.7:50051" });
        }
        const listed = await registry.listGuildAgents("g1");
        expect(listed.map((a) => a.agentId)).toEqual(["a", "b", "c"]);
        expect(listed.map((a) => a.spec)).toEqual([specs[1], specs[0], specs[2]]);
        expect((await registry.findAgentsByName("g1", "Scout")).map((a) => a.agentId)).toEqual([
          "a",
          "b",
        ]);
        expect(await registry.findAgentsByName("g1", "Nobody")).toEqual([]);
        // No agent has an empty name; a malformed guild id is refused whatever the name.
        expect(await registry.findAgentsByName("g1", "")).toEqual([]);
        for (const name of ["", "Scout"]) {
          await expect(registry.findAgentsByName("no/such guild", name)).rejects.toMatchObject({
            code: "invalid-argument",
          });
        }
      });
    });

    describe("restoring a host the registry forgot", () => {
      it("restores agents under their epochs and never lets epochs go backwards", async () => {
        await registry.registerHost(host("h:1", { leaseMs: SHORT_MS }));
        const spec = agentSpec("x", { properties: { kept: true } });
        const { epoch } = await registry.registerAgent({ guildId: "g1", spec, hostAddress: "h:1" });
        await waitFor(
          async () => {
            expect(await registry.getHost("h:1")).toBeUndefined();
            return true;
          },
          { description: "the host's lease to lapse" },
        );
        expect(await registry.heartbeat("h:1")).toEqual({ status: "unknown-host" });
        expect(await registry.getLocation("g1", "x")).toBeUndefined();

        const result = await registry.restoreHost(host("h:1"), [
          { guildId: "g1", spec, epoch },
          { guildId: "g1", spec: agentSpec("far"), epoch: epoch + 1000 },
        ]);
        expect(result).toEqual({ restored: 2, refused: [] });
        expect(await registry.getAgent("g1", "x")).toEqual({
          guildId: "g1",
          agentId: "x",
          hostAddress: "h:1",
          epoch,
          spec,
        });
        expect(await registry.heartbeat("h:1")).toEqual({ status: "ok", renewed: 2, lost: [] });
        const next = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("y"),
          hostAddress: "h:1",
        });
        expect(next.epoch).toBeGreaterThan(epoch + 1000);
      });

      it("refuses to restore an agent that a newer placement owns", async () => {
        await registry.registerHost(host("h:1", { leaseMs: SHORT_MS }));
        await registry.registerHost(host("h:2"));
        const old = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "h:1",
        });
        await waitFor(
          async () => {
            expect(await registry.getHost("h:1")).toBeUndefined();
            return true;
          },
          { description: "the host's lease to lapse" },
        );
        const moved = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("x"),
          hostAddress: "h:2",
        });

        const result = await registry.restoreHost(host("h:1"), [
          { guildId: "g1", spec: agentSpec("x"), epoch: old.epoch },
        ]);
        expect(result).toEqual({
          restored: 0,
          refused: [{ guildId: "g1", agentId: "x", epoch: old.epoch, reason: "moved" }],
        });
        expect(await registry.getLocation("g1", "x")).toEqual({
          guildId: "g1",
          agentId: "x",
          hostAddress: "h:2",
          epoch: moved.epoch,
        });
        expect(await registry.getHostLoad("h:1")).toBe(0);
        expect(await registry.getHostLoad("h:2")).toBe(1);
      });

      it("keeps the host's current agents when restoring", async () => {
        await registry.registerHost(host("h:1"));
        const a = await registry.registerAgent({
          guildId: "g1",
          spec: agentSpec("a"),
          hostAddress: "h:1",
        });
        const result = await registry.restoreHost(host("h:1"), [
          { guildId: "g1", spec: agentSpec("a"), epoch: a.epoch },
        ]);
        expect(result).toEqual({ restored: 1, refused: [] });
        expect(await registry.getHostLoad("h:1")).toBe(1);
        expect((await registry.getLocation("g1", "a"))?.epoch).toBe(a.epoch);
      });
    });

    describe("concurrency", () => {
      it("50 parallel registrations of one agent from 2 hosts leave exactly one owner", async () => {
        const clients = [registry, harness.open()];
        await registry.registerHost(host("10.0.0.1:50051"));
        await registry.registerHost(host("10.0.0.2:50051"));
        const addresses = ["10.0.0.1:50051", "10.0.0.2:50051"] as const;

        const placements = await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const hostAddress = addresses[i % 2] ?? addresses[0];
            const client = clients[i % 2] ?? registry;
            const placement = await client.registerAgent({
              guildId: "g1",
              spec: agentSpec("contested"),
              hostAddress,
            });
            return { ...placement, hostAddress, client: i % 2 };
          }),
        );

        const epochs = placements.map((p) => p.epoch);
        expect(new Set(epochs).size).toBe(50);

        // Each registration names the one it replaced: following those links from the first
        // gives the order the registry applied them in, and epochs must rise along it.
        const applied = [...placements].sort((a, b) => a.epoch - b.epoch);
        expect(applied[0]?.previous).toBeUndefined();
        for (let i = 1; i < applied.length; i++) {
          expect(applied[i]?.previous).toEqual({
            hostAddress: applied[i - 1]?.hostAddress,
            epoch: applied[i - 1]?.epoch,
          });
        }
        // One connection applies its commands in the order it sent them.
        for (const client of [0, 1]) {
          const own = placements.filter((p) => p.client === client).map((p) => p.epoch);
          expect(own).toEqual([...own].sort((a, b) => a - b));
        }

        const last = applied[applied.length - 1];
        expect(await registry.getLocation("g1", "contested")).toEqual({
          guildId: "g1",
          agentId: "contested",
          hostAddress: last?.hostAddress,
          epoch: last?.epoch,
        });
        const loads = await Promise.all(addresses.map((a) => registry.getHostLoad(a)));
        expect(loads.sort()).toEqual([0, 1]);
        expect(await registry.listGuildAgents("g1")).toHaveLength(1);
      });
    });

    describe("desired state", () => {
      const guild = { id: "g1", name: "Guild one", defaultTopic: "town-square" };

      it("records, replaces, lists and removes desired agents per guild and for all guilds", async () => {
        await registry.setDesiredAgent(guild, agentSpec("b"));
        await registry.setDesiredAgent(guild, agentSpec("a"));
        await registry.setDesiredAgent({ id: "g2", name: "Guild two" }, agentSpec("a"));
        await registry.setDesiredAgent(guild, agentSpec("b", { name: "Renamed" }));

        expect(await registry.listDesiredAgents("g1")).toEqual([
          { guild, spec: agentSpec("a") },
          { guild, spec: agentSpec("b", { name: "Renamed" }) },
        ]);
        expect((await registry.listAllDesiredAgents()).map((d) => [d.guild.id, d.spec.id])).toEqual(
          [
            ["g1", "a"],
            ["g1", "b"],
            ["g2", "a"],
          ],
        );

        expect(await registry.getDesiredAgent("g1", "b")).toEqual({
          guild,
          spec: agentSpec("b", { name: "Renamed" }),
        });
        expect(await registry.getDesiredAgent("g1", "c")).toBeUndefined();
        await registry.setDesiredAgent(guild, agentSpec("lazy"), { lazy: true });
        expect(await registry.getDesiredAgent("g1", "lazy")).toEqual({
          guild,
          spec: agentSpec("lazy"),
          lazy: true,
        });
        expect(await registry.removeDesiredAgent("g1", "lazy")).toBe(true);
        expect(await registry.removeDesiredAgent("g1", "a")).toBe(true);
        expect(await registry.removeDesiredAgent("g1", "a")).toBe(false);
        expect(await registry.removeDesiredGuild("g2")).toBe(1);
        expect((await registry.listAllDesiredAgents()).map((d) => d.spec.id)).toEqual(["b"]);
        expect(await registry.removeDesiredAgent("g1", "b")).toBe(true);
        expect(await registry.listAllDesiredAgents()).toEqual([]);
        expect(await registry.listDesiredAgents("g1")).toEqual([]);
      });

      it("keeps only the guild context, not a full guild's agent list", async () => {
        const full = { ...guild, agents: [agentSpec("a"), agentSpec("b")] };
        await registry.setDesiredAgent(full, agentSpec("a"));
        expect(await registry.listDesiredAgents("g1")).toEqual([{ guild, spec: agentSpec("a") }]);
      });

      it("refuses invalid desired agents and stores nothing", async () => {
        await expectError(
          registry.setDesiredAgent({ id: "bad id", name: "x" }, agentSpec("a")),
          "invalid-argument",
        );
        await expectError(
          registry.setDesiredAgent(guild, { ...agentSpec("a"), className: "nohash" }),
          "invalid-argument",
        );
        expect(await registry.listAllDesiredAgents()).toEqual([]);
      });
    });

    describe("reconciler lease", () => {
      it("has one holder at a time, fenced by its token", async () => {
        const other = harness.open();
        const lease = await registry.acquireReconcilerLease(LONG_MS);
        expect(lease).toBeDefined();
        if (lease === undefined) return;
        expect(await other.acquireReconcilerLease(LONG_MS)).toBeUndefined();
        expect(await registry.acquireReconcilerLease(LONG_MS)).toBeUndefined();

        const forged = { token: "forged", leaseMs: LONG_MS };
        expect(await other.renewReconcilerLease(forged)).toBe(false);
        expect(await other.releaseReconcilerLease(forged)).toBe(false);
        expect(await registry.renewReconcilerLease(lease)).toBe(true);

        expect(await registry.releaseReconcilerLease(lease)).toBe(true);
        expect(await registry.releaseReconcilerLease(lease)).toBe(false);
        const next = await other.acquireReconcilerLease(LONG_MS);
        expect(next).toBeDefined();
        expect(next?.token).not.toBe(lease.token);
        expect(await registry.renewReconcilerLease(lease)).toBe(false);
      });

      it("passes to another holder once the lease lapses; the old holder cannot renew", async () => {
        const other = harness.open();
        const lease = await registry.acquireReconcilerLease(SHORT_MS);
        expect(lease).toBeDefined();
        if (lease === undefined) return;
        const next = await waitFor(() => other.acquireReconcilerLease(LONG_MS), {
          description: "the lapsed reconciler lease to pass to another holder",
        });
        expect(await registry.renewReconcilerLease(lease)).toBe(false);
        expect(await registry.releaseReconcilerLease(lease)).toBe(false);
        expect(next === undefined ? false : await other.renewReconcilerLease(next)).toBe(true);
      });

      it("tells every client whether anyone holds the lease, until it is released", async () => {
        const other = harness.open();
        expect(await registry.reconcilerActive()).toBe(false);
        const lease = await registry.acquireReconcilerLease(LONG_MS);
        expect(lease).toBeDefined();
        if (lease === undefined) return;
        expect(await registry.reconcilerActive()).toBe(true);
        expect(await other.reconcilerActive()).toBe(true);
        // A forged release changes nothing.
        await other.releaseReconcilerLease({ token: "forged", leaseMs: LONG_MS });
        expect(await other.reconcilerActive()).toBe(true);
        expect(await registry.releaseReconcilerLease(lease)).toBe(true);
        expect(await other.reconcilerActive()).toBe(false);
      });

      it("stops counting a holder that neither renews nor releases once its lease lapses", async () => {
        const other = harness.open();
        expect(await registry.acquireReconcilerLease(SHORT_MS)).toBeDefined();
        await waitFor(async () => !(await other.reconcilerActive()), {
          description: "the unrenewed reconciler lease to lapse",
        });
        // The next holder counts again.
        expect(await other.acquireReconcilerLease(LONG_MS)).toBeDefined();
        expect(await registry.reconcilerActive()).toBe(true);
      });
    });

    describe("bad input", () => {
      it("refuses invalid ids, addresses, specs and durations, and stores nothing", async () => {
        await expectError(registry.registerHost(host("has space:1")), "invalid-argument");
        await expectError(registry.registerHost(host("")), "invalid-argument");
        await expectError(registry.registerHost(host("h:1", { leaseMs: 0 })), "invalid-argument");
        await expectError(
          registry.registerHost(host("h:1", { maxAgents: -1 })),
          "invalid-argument",
        );
        await registry.registerHost(host("h:1"));
        await expectError(
          registry.registerAgent({ guildId: "g/1", spec: agentSpec("a"), hostAddress: "h:1" }),
          "invalid-argument",
        );
        await expectError(
          registry.registerAgent({ guildId: "g1", spec: agentSpec("a:b"), hostAddress: "h:1" }),
          "invalid-argument",
        );
        await expectError(
          registry.registerAgent({
            guildId: "g1",
            spec: { ...agentSpec("a"), unknown: 1 } as never,
            hostAddress: "h:1",
          }),
          "invalid-argument",
        );
        await expectError(registry.deregisterAgent("g1", "a", 0), "invalid-argument");
        await expectError(registry.getLocation("g1", "../x"), "invalid-argument");
        await expectError(registry.acquireReconcilerLease(-5), "invalid-argument");
        expect(await registry.getHostLoad("h:1")).toBe(0);
        expect((await registry.listHosts()).map((h) => h.address)).toEqual(["h:1"]);
      });

      it("rejects every call after close with unavailable", async () => {
        await registry.close();
        await registry.close();
        await expectError(registry.getLocation("g1", "a"), "unavailable");
        await expectError(registry.listHosts(), "unavailable");
        await expectError(registry.reconcilerActive(), "unavailable");
        // Answered without a lookup while open, but still refused once closed.
        await expectError(registry.findAgentsByName("g1", ""), "unavailable");
        await expectError(registry.getDesiredAgent("g1", "a"), "unavailable");
      });
    });
  });
}
