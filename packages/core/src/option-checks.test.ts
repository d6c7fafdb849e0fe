import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { checkPem, checkWholeNumber } from "./option-checks.js";

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
