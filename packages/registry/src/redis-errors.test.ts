import { describe, expect, it } from "vitest";
import { RedisErrorMapper, displayRedisUrl } from "./redis-errors.js";

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = "ReplyError";
  return error;
}

describe("displayRedisUrl", () => {
  it("drops user and password and keeps host, port and database", () => {
    expect(displayRedisUrl("redis://u:secret@[::1]:6379/2")).toBe("redis://[::1]:6379/2");
    expect(displayRedisUrl("rediss://:secret@redis.internal:6380")).toBe(
      "rediss://redis.internal:6380",
    );
    expect(displayRedisUrl("not a url")).not.toContain("not a url");
  });
});

describe("RedisErrorMapper", () => {
  const mapper = new RedisErrorMapper("redis://user:top%2Fsecret@10.0.0.5:6379");

  it("maps connection failures to unavailable, naming the server and the last cause", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:6379"), {
      code: "ECONNREFUSED",
    });
    mapper.connectionFailed(refused);
    const retries = new Error("Reached the max retries per request limit (which is 0).");
    retries.name = "MaxRetriesPerRequestError";
    const error = mapper.map(retries);
    expect(error.code).toBe("unavailable");
    expect(error.message).toBe(
      "Redis at redis://10.0.0.5:6379 is unreachable: connect ECONNREFUSED 10.0.0.5:6379. " +
        "Check GUILDHALL_REDIS_URL (or REDIS_URL) and that the server is running and reachable " +
        "from here; the registry keeps reconnecting and recovers by itself once it is.",
    );
    expect(error.cause).toBe(retries);
    mapper.connected();
    expect(mapper.map(new Error("Command timed out")).code).toBe("unavailable");
    expect(mapper.map(refused).code).toBe("unavailable");
    expect(mapper.map(replyError("LOADING Redis is loading the dataset in memory")).code).toBe(
      "unavailable",
    );
  });

  it("maps refused credentials, ACL denials and memory exhaustion", () => {
    expect(mapper.map(replyError("WRONGPASS invalid username-password pair")).code).toBe(
      "unauthenticated",
    );
    expect(mapper.map(replyError("NOAUTH Authentication required.")).code).toBe("unauthenticated");
    expect(mapper.map(replyError("NOPERM this user has no permissions")).code).toBe(
      "permission-denied",
    );
    expect(mapper.map(replyError("OOM command not allowed")).code).toBe("resource-exhausted");
    expect(mapper.map(replyError("ERR something odd")).code).toBe("internal");
  });

  it("never lets the password through, encoded or not", () => {
    for (const leaked of ["top/secret", "top%2Fsecret"]) {
      const error = mapper.map(new Error(`odd failure mentioning ${leaked}`));
      expect(error.message).not.toContain(leaked);
      expect(error.message).toContain("***");
    }
  });

  it("scrubs a password whose percent escape is malformed", () => {
    const raw = "p%zzword";
    const withBadEscape = new RedisErrorMapper(`redis://user:${raw}@localhost:6379`);
    const error = withBadEscape.map(new Error(`odd failure mentioning ${raw}`));
    expect(error.message).not.toContain(raw);
    expect(error.message).toContain("***");
  });
});
