import { Code, ConnectError } from "@connectrpc/connect";
import { GRPC_STATUS_OF_ERROR_CODE, GuildhallError, type ErrorCode } from "@guildhall/core";
import { describe, expect, it } from "vitest";
import { errorCodeOf, toGuildhallError } from "./error-mapping.js";

const context = { host: "10.0.0.7:50051", method: "CreateAgent" };

describe("toGuildhallError", () => {
  it("keeps the host's message and code for each refusal of the host API", () => {
    const cases: [Code, ErrorCode][] = [
      [Code.InvalidArgument, "invalid-argument"],
      [Code.AlreadyExists, "already-exists"],
      [Code.NotFound, "not-found"],
      [Code.ResourceExhausted, "resource-exhausted"],
      [Code.PermissionDenied, "permission-denied"],
      [Code.Unauthenticated, "unauthenticated"],
      [Code.Unavailable, "unavailable"],
      [Code.DeadlineExceeded, "deadline-exceeded"],
      [Code.FailedPrecondition, "failed-precondition"],
      [Code.Internal, "internal"],
    ];
    for (const [code, expected] of cases) {
      const error = toGuildhallError(
        new ConnectError("module /x.js is not allowed", code),
        context,
      );
      expect(error).toBeInstanceOf(GuildhallError);
      expect(error.code).toBe(expected);
      expect(
        error.message.startsWith(
          "module /x.js is not allowed (CreateAgent on agent host 10.0.0.7:50051",
        ),
      ).toBe(true);
      expect(error.cause).toBeInstanceOf(ConnectError);
    }
  });

  it("says what to do about a missing token or a deadline", () => {
    expect(
      toGuildhallError(new ConnectError("no token", Code.Unauthenticated), context).message,
    ).toContain("option token");
    expect(
      toGuildhallError(new ConnectError("slow", Code.DeadlineExceeded), context).message,
    ).toContain("rpcTimeoutMs");
  });

  it("turns transport failures into unavailable, and passes GuildhallErrors through", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.7:50051"), {
      code: "ECONNREFUSED",
    });
    const mapped = toGuildhallError(ConnectError.from(refused, Code.Unavailable), context);
    expect(mapped.code).toBe("unavailable");
    expect(mapped.message).toContain("ECONNREFUSED");
    // A reset is not taken for an unreachable host (see toGuildhallError).
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(toGuildhallError(ConnectError.from(reset, Code.Aborted), context).code).toBe("aborted");
    const own = new GuildhallError("aborted", "stop");
    expect(toGuildhallError(own, context)).toBe(own);
    expect(toGuildhallError(new TypeError("boom"), context).code).toBe("internal");
  });
});

describe("codes", () => {
  it("map one to one in both directions for every GuildhallError code", () => {
    const all: ErrorCode[] = [
      "invalid-argument",
      "not-found",
      "already-exists",
      "resource-exhausted",
      "permission-denied",
      "unauthenticated",
      "unavailable",
      "failed-precondition",
      "deadline-exceeded",
      "aborted",
      "internal",
    ];
    for (const code of all) expect(errorCodeOf(GRPC_STATUS_OF_ERROR_CODE[code])).toBe(code);
    expect(errorCodeOf(Code.Canceled)).toBe("aborted");
    expect(errorCodeOf(Code.Unimplemented)).toBe("failed-precondition");
  });
});
