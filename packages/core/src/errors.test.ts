import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";

describe("GuildhallError", () => {
  it("carries a code, a message and a cause", () => {
    const cause = new Error("root");
    const error = new GuildhallError("not-found", "no such agent", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "GuildhallError",
      code: "not-found",
      message: "no such agent",
    });
    expect(error.cause).toBe(cause);
  });

  it("is recognized across copies of the package by its brand", () => {
    const foreign = Object.assign(new Error("from another copy"), {
      [Symbol.for("@guildhall/core/GuildhallError")]: true,
      code: "internal",
    });
    expect(foreign).toBeInstanceOf(GuildhallError);
    expect(new Error("plain")).not.toBeInstanceOf(GuildhallError);
    expect(null).not.toBeInstanceOf(GuildhallError);
  });

  it("keeps prototype checks for subclasses", () => {
    class Special extends GuildhallError {}
    expect(new Special("internal", "x")).toBeInstanceOf(Special);
    expect(new GuildhallError("internal", "x")).not.toBeInstanceOf(Special);
  });
});
