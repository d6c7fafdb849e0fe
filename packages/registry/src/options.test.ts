import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { ioredisOptions, resolveRedisOptions } from "./options.js";

function clientFor(url: string, extra: Parameters<typeof resolveRedisOptions>[0]["redis"] = {}) {
  const options = ioredisOptions(
    resolveRedisOptions({ url, redis: { lazyConnect: true, ...extra } }),
  );
  return new Redis(url, options);
}

describe("resolveRedisOptions", () => {
  it("fills the documented defaults", () => {
    expect(resolveRedisOptions({ url: "redis://localhost:6379" })).toEqual({
      url: "redis://localhost:6379",
      prefix: "gh:",
      hostLeaseMs: 3_000,
      agentTtlMs: undefined,
      commandTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      maxReconnectDelayMs: 2_000,
      redis: {},
    });
  });

  it("refuses a missing or non-Redis URL and bad durations", () => {
    for (const url of [undefined, "", "http://x", "localhost:6379"]) {
      expect(() => resolveRedisOptions({ url } as never)).toThrow(GuildhallError);
    }
    expect(() => resolveRedisOptions({ url: "redis://x", commandTimeoutMs: 0 })).toThrow(
      /commandTimeoutMs/,
    );
    expect(() => resolveRedisOptions({ url: "redis://x", prefix: "a b" })).toThrow(/prefix/);
  });
});

describe("ioredisOptions", () => {
  it("fails fast: no retries per command, a command timeout, no silent resends", () => {
    const client = clientFor("redis://localhost:6379");
    expect(client.options.enableOfflineQueue).toBe(true);
    expect(client.options.maxRetriesPerRequest).toBe(0);
    expect(client.options.autoResendUnfulfilledCommands).toBe(false);
    expect(client.options.commandTimeout).toBe(5_000);
    expect(client.options.connectTimeout).toBe(5_000);
    client.disconnect();
  });

  it("reconnects forever, backing off up to maxReconnectDelayMs", () => {
    const options = ioredisOptions(
      resolveRedisOptions({ url: "redis://x", maxReconnectDelayMs: 1_000 }),
    );
    const delays = [1, 2, 3, 4, 5, 6, 100, 10_000].map((n) => options.retryStrategy?.(n));
    expect(delays).toEqual([50, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("keeps credentials, database and TLS from the URL, and passes extra options through", () => {
    const client = clientFor("rediss://alice:p%40ss@[::1]:6380/3", {
      tls: { servername: "redis.internal" },
      connectionName: "host-a",
    });
    expect(client.options.username).toBe("alice");
    expect(client.options.password).toBe("p@ss");
    expect(client.options.host).toBe("::1");
    expect(client.options.port).toBe(6380);
    expect(client.options.db).toBe(3);
    expect(client.options.tls).toEqual({ servername: "redis.internal" });
    expect(client.options.connectionName).toBe("host-a");
    client.disconnect();

    const plainTls = clientFor("rediss://redis.example:6380");
    expect(plainTls.options.tls).toBeTruthy();
    plainTls.disconnect();
  });
});
