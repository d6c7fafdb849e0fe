import { describe, expect, it } from "vitest";
import { pick } from "./settings.js";

describe("pick", () => {
  const env = { A: " from-a ", B: "from-b", BLANK: "  " };

  it("takes the flag, trimmed, before any variable", () => {
    expect(pick(" flag ", env, "A")).toBe("flag");
  });

  it("else the first variable that is set, trimmed", () => {
    expect(pick(undefined, env, "A", "B")).toBe("from-a");
    expect(pick(undefined, env, "MISSING", "B")).toBe("from-b");
  });

  it("counts a blank flag or variable as unset", () => {
    expect(pick("", env, "BLANK", "B")).toBe("from-b");
    expect(pick(" ", env, "BLANK")).toBeUndefined();
    expect(pick(undefined, {}, "A")).toBeUndefined();
  });
});
