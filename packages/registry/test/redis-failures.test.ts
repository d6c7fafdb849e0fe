// How RedisLocationRegistry behaves when Redis is down, hung, restarted empty or refuses the
// credentials. Each test owns its own redis-server, or an ACL user on the shared one.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import {
  freePort,
  startRedisServer,
  testRedisUrl,
  waitFor,
  type RedisTestServer,
} from "@guildhall/testing";
import { RedisLocationRegistry } from "../src/index.js";
import { agentSpec, deleteKeysUnder, randomPrefix } from "./helpers.js";

async function failure(promise: Promise<unknown>): Promise<GuildhallError> {
  const error: unknown = await promise.then(
    () => {
      throw new Error("expected the operation to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuildhallError);
  return error as GuildhallError;
}

describe("RedisLocationRegistry failures", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function server(): Promise<RedisTestServer> {
    const started = await startRedisServer();
    cleanups.push(() => started.stop());
    return started;
  }

  function registry(url: string, options: { commandTimeoutMs?: number } = {}) {
    const opened = new RedisLocationRegistry({ url, prefix: randomPrefix(), ...options });
    cleanups.push(() => opened.close());
    return opened;
  }

  it("fails fast while Redis is down, recovers by itself, and restores after data loss", async () => {
    const redis = await server();
    const r = registry(redis.url);
    const self = { address: "[::1]:50051", maxAgents: 10 };
    await r.registerHost(self);
    const spec = agentSpec("x");
    const { epoch } = await r.registerAgent({ guildId: "g1", spec, hostAddress: self.address });

    await redis.stop();
    const down = await failure(r.getLocation("g1", "x"));
    expect(down.code).toBe("unavailable");
    expect(down.message).toContain(`Redis at redis://127.0.0.1:${redis.port} is unreachable`);
    expect(down.message).toContain("GUILDHALL_REDIS_URL");
    expect((await failure(r.heartbeat(self.address))).code).toBe("unavailable");

    // Back, but empty: the registry forgot the host, which restores what it runs.
    await redis.start();
    const beat = await waitFor(() => r.heartbeat(self.address), {
      description: "a heartbeat once Redis is back",
    });
    expect(beat).toEqual({ status: "unknown-host" });
    expect(await r.getLocation("g1", "x")).toBeUndefined();
    expect(await r.restoreHost(self, [{ guildId: "g1", spec, epoch }])).toEqual({
      restored: 1,
      refused: [],
    });
    expect((await r.getLocation("g1", "x"))?.epoch).toBe(epoch);
    const next = await r.registerAgent({ guildId: "g1", spec, hostAddress: self.address });
    expect(next.epoch).toBeGreaterThan(epoch);
  });

  it("hands out higher epochs after Redis lost its data, even before hosts restore", async () => {
    const redis = await server();
    const r = registry(redis.url);
    await r.registerHost({ address: "h:1", maxAgents: 10 });
    const before = await r.registerAgent({
      guildId: "g1",
      spec: agentSpec("x"),
      hostAddress: "h:1",
    });
    await redis.kill();
    await redis.start();
    await waitFor(() => r.registerHost({ address: "h:2", maxAgents: 10 }).then(() => true), {
      description: "a host to register once Redis is back",
    });
    const after = await r.registerAgent({
      guildId: "g1",
      spec: agentSpec("y"),
      hostAddress: "h:2",
    });
    expect(after.epoch).toBeGreaterThan(before.epoch);
  });

  it("fails commands to a hung server after commandTimeoutMs, then recovers", async () => {
    const redis = await server();
    const r = registry(redis.url, { commandTimeoutMs: 300 });
    await r.registerHost({ address: "h:1", maxAgents: 1 });
    redis.pause();
    try {
      const hung = await failure(r.getHost("h:1"));
      expect(hung.code).toBe("unavailable");
      expect(hung.message).toContain("did not answer in time");
    } finally {
      redis.resume();
    }
    const recovered = await waitFor(() => r.getHost("h:1"), {
      description: "the host's record once Redis resumed",
    });
    expect(recovered.maxAgents).toBe(1);
  });

  it("never puts the password in a message", async () => {
    const port = await freePort();
    const r = registry(`redis://guild:s3cret-pw@127.0.0.1:${port}/0`);
    const error = await failure(r.listHosts());
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain(`redis://127.0.0.1:${port}/0 is unreachable`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).not.toContain("s3cret-pw");
    expect(error.message).not.toContain("guild:");
  });

  it("connects as an ACL user from the URL, and says so when the password is wrong", async () => {
    const url = new URL(testRedisUrl());
    const user = `registry-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    const prefix = randomPrefix();
    const admin = new Redis(url.href);
    cleanups.push(async () => {
      await admin.acl("DELUSER", user);
      await deleteKeysUnder(url.href, prefix);
      admin.disconnect();
    });
    // The least the registry needs, as the README documents it.
    await admin.acl(
      "SETUSER",
      user,
      "on",
      `>${password}`,
      `~${prefix}*`,
      "+@read",
      "+@write",
      "+@scripting",
      "+@connection",
      "+time",
      "+info",
    );

    const withUser = new URL(url.href);
    withUser.username = user;
    withUser.password = password;
    const r = new RedisLocationRegistry({ url: withUser.href, prefix });
    cleanups.push(() => r.close());
    await r.registerHost({ address: "h:1", maxAgents: 1 });
    const { epoch } = await r.registerAgent({
      guildId: "g1",
      spec: agentSpec("a"),
      hostAddress: "h:1",
    });
    expect(await r.heartbeat("h:1")).toEqual({ status: "ok", renewed: 1, lost: [] });
    expect((await r.listGuildAgents("g1")).map((a) => a.epoch)).toEqual([epoch]);
    expect(await r.getHostLoad("h:1")).toBe(1);

    // Keys outside the user's pattern are refused by Redis, and reported as such.
    const outside = new RedisLocationRegistry({ url: withUser.href, prefix: "elsewhere:" });
    cleanups.push(() => outside.close());
    expect((await failure(outside.listHosts())).code).toBe("permission-denied");

    withUser.password = "wrong-password";
    const wrong = new RedisLocationRegistry({ url: withUser.href, prefix });
    cleanups.push(() => wrong.close());
    const refused = await failure(wrong.listHosts());
    expect(refused.code).toBe("unauthenticated");
    expect(refused.message).not.toContain("wrong-password");
    expect(refused.message).not.toContain(password);
  });
});
