import { describe, expect, it } from "vitest";
import { RedisErrorMapper, displayRedisUrl, type RedisErrorHints } from "./redis-errors.js";
import { REGISTRY_ERROR_HINTS } from "./redis-location-registry.js";

const HINTS: RedisErrorHints = {
  unreachable: "Check the URL.",
  credentials: "Check the password.",
  permission: "Grant the commands.",
  outOfMemory: "Make room.",
  wrongType: "Use another prefix.",
};

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
  const mapper = new RedisErrorMapper(
    "redis://user:top%2Fsecret@10.0.0.5:6379",
    REGISTRY_ERROR_HINTS,
  );

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
    const timedOut = mapper.map(new Error("Command timed out"));
    expect(timedOut.code).toBe("unavailable");
    expect(timedOut.message).toContain("did not answer in time (commandTimeoutMs)");
    const aborted = new Error("Command aborted due to connection close");
    aborted.name = "AbortError";
    expect(mapper.map(aborted).code).toBe("unavailable");
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
    expect(mapper.map(replyError("WRONGTYPE Operation against a key")).code).toBe(
      "failed-precondition",
    );
    expect(mapper.map(replyError("ERR something odd")).code).toBe("internal");
  });

  it("never lets the password through, encoded or not", () => {
    for (const leaked of ["top/secret", "top%2Fsecret"]) {
      const error = mapper.map(new Error(`odd failure mentioning ${leaked}`));
      expect(error.message).not.toContain(leaked);
      expect(error.message).toContain("***");
    }
  });

  it("ends each message with the client's advice and starts it with the operation", () => {
    const bus = new RedisErrorMapper("redis://10.0.0.5:6379", HINTS);
    const cases: [Error, string, string][] = [
      [
        replyError("WRONGPASS invalid username-password pair"),
        "unauthenticated",
        "Check the password.",
      ],
      [replyError("NOPERM no permissions"), "permission-denied", "Grant the commands."],
      [replyError("OOM command not allowed"), "resource-exhausted", "Make room."],
      [
        replyError("WRONGTYPE Operation against a key"),
        "failed-precondition",
        "Use another prefix.",
      ],
      [new Error("Connection is closed."), "unavailable", "Check the URL."],
    ];
    for (const [error, code, hint] of cases) {
      const mapped = bus.map(error, "could not publish");
      expect(mapped.code).toBe(code);
      expect(mapped.message.startsWith("could not publish: Redis at redis://10.0.0.5:6379 ")).toBe(
        true,
      );
      expect(mapped.message.endsWith(hint)).toBe(true);
      expect(mapped.cause).toBe(error);
    }
  });

  it("explains an operation refused while disconnected by the last connection error", () => {
    const bus = new RedisErrorMapper("redis://10.0.0.5:6379", HINTS);
    expect(bus.unavailable("could not publish").message).toBe(
      "could not publish: Redis at redis://10.0.0.5:6379 is unreachable: not connected. Check the URL.",
    );
    bus.connectionFailed(new Error("connect ECONNREFUSED 10.0.0.5:6379"));
    const error = bus.unavailable("could not publish");
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("is unreachable: connect ECONNREFUSED 10.0.0.5:6379.");
    expect(bus.unavailable("could not publish", "it is loading").message).toContain(
      "is unreachable: it is loading.",
    );
  });

  it("returns a GuildhallError as it is", () => {
    const error = mapper.unavailable("could not read");
    expect(mapper.map(error, "something else")).toBe(error);
  });
});

describe("RedisErrorMapper scrubbing", () => {
  // The forms in which a password can show up in an error message: as typed in the URL, as
  // `new URL` keeps it, and decoded.
  const cases: [url: string, forms: string[]][] = [
    ["redis://user:top%2Fsecret@h:6379", ["top%2Fsecret", "top/secret"]],
    ["redis://user:p%zzword@h:6379", ["p%zzword"]],
    ["redis://user:p%zz@h:6379", ["p%zz"]],
    ["redis://user:%@h:6379", ["%"]],
    ["redis://user:p%zz%41 x@h:6379", ["p%zz%41 x", "p%zz%41%20x", "p%zzA x"]],
    ["redis://user:p@ss@h:6379", ["p@ss", "p%40ss"]],
    // Unparsable by `new URL` (the password ends the host early): cut out by hand.
    ["redis://user:pa/ss@h:6379", ["pa/ss"]],
    ["redis://user:pa#s%zz@h:6379", ["pa#s%zz"]],
  ];

  it.each(cases)("never lets the password of %s through", (url, forms) => {
    const mapper = new RedisErrorMapper(url, HINTS);
    for (const form of forms) {
      const leak = `odd failure mentioning <${form}>`;
      const mapped = mapper.map(new Error(leak), "could not read");
      expect(mapped.message).not.toContain(form);
      expect(mapped.message).toContain("<***>");
      expect(mapper.scrub(leak)).toBe("odd failure mentioning <***>");
      mapper.connectionFailed(new Error(leak));
      expect(mapper.unavailable("could not read").message).not.toContain(form);
    }
    // Nothing but the password is scrubbed.
    expect(mapper.scrub("could not publish to redis://h:6379")).toBe(
      "could not publish to redis://h:6379",
    );
  });

  it("leaves a URL without a password alone", () => {
    const mapper = new RedisErrorMapper("redis://user@h:6379", HINTS);
    expect(mapper.scrub("user at redis://h:6379")).toBe("user at redis://h:6379");
  });
});
