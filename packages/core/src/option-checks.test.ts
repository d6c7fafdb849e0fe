import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { checkId, checkPem, checkWholeNumber } from "./option-checks.js";

function refusal(check: () => unknown): GuildhallError {
  try {
    check();
  } catch (error) {
    if (error instanceof GuildhallError) return error;
  }
  throw new Error("expected a GuildhallError");
}

describe("checkWholeNumber", () => {
  it("returns a whole number within the range, bounds included", () => {
    for (const value of [0, 7, 10]) {
      expect(checkWholeNumber("option n", value, { min: 0, max: 10 })).toBe(value);
    }
  });

  it("refuses anything else, naming the value, the range and what it got", () => {
    const cases: [unknown, string][] = [
      [-1, "-1"],
      [11, "11"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      ["5", '"5"'],
      [undefined, "undefined"],
      [null, "null"],
    ];
    for (const [value, got] of cases) {
      const error = refusal(() => checkWholeNumber("X: option n", value, { min: 0, max: 10 }));
      expect(error.code).toBe("invalid-argument");
      expect(error.message).toBe(`X: option n must be a whole number from 0 to 10, got ${got}`);
    }
    expect(
      refusal(() => checkWholeNumber("blockMs", 0, { min: 1, max: 5, unit: "milliseconds" }))
        .message,
    ).toBe("blockMs must be a whole number of milliseconds from 1 to 5, got 0");
  });

  it("without a max, accepts any safe whole number from min and says only the lower bound", () => {
    expect(checkWholeNumber("n", Number.MAX_SAFE_INTEGER, { min: 1 })).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(refusal(() => checkWholeNumber("X: option n", 0, { min: 1 })).message).toBe(
      "X: option n must be a whole number 1 or more, got 0",
    );
    expect(() => checkWholeNumber("n", 2 ** 53, { min: 1 })).toThrow(GuildhallError);
  });
});

describe("checkId", () => {
  it("returns a valid id", () => {
    expect(checkId("guild id", "g-1.a_b")).toBe("g-1.a_b");
    expect(checkId("agent id", "a".repeat(128))).toBe("a".repeat(128));
  });

  it("refuses anything else, naming what and the value", () => {
    for (const [value, shown] of [
      ["", '""'],
      ["-x", '"-x"'],
      ["a b", '"a b"'],
      ["a".repeat(129), `"${"a".repeat(129)}"`],
      [7, "7"],
      [undefined, "undefined"],
    ] as const) {
      const error = refusal(() => checkId("X: guild id", value));
      expect(error.code).toBe("invalid-argument");
      expect(error.message).toBe(
        `X: guild id ${shown} is invalid: it must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ` +
          "(letters, digits, '.', '_', '-'; at most 128)",
      );
    }
  });
});

describe("checkPem", () => {
  it("accepts PEM text and Buffers", () => {
    const buffer = Buffer.from("-----BEGIN CERTIFICATE-----");
    expect(checkPem("option tls.ca", "-----BEGIN CERTIFICATE-----")).toBe(
      "-----BEGIN CERTIFICATE-----",
    );
    expect(checkPem("option tls.ca", buffer)).toBe(buffer);
  });

  it("refuses blank text and anything else, saying to read the file first", () => {
    for (const value of ["", "  \n", undefined, 42, { path: "ca.pem" }]) {
      const error = refusal(() => checkPem("X: option tls.ca", value));
      expect(error.code).toBe("invalid-argument");
      expect(error.message).toBe(
        "X: option tls.ca must be PEM text or a Buffer (read the file first)",
      );
    }
  });
});
