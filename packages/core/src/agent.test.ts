import { describe, expect, it } from "vitest";
import { Agent, isAgentClass } from "./agent.js";

class Echo extends Agent {
  onMessage(): void {}
}

describe("isAgentClass", () => {
  it("is true for subclasses of Agent only", () => {
    expect(isAgentClass(Echo)).toBe(true);
    expect(isAgentClass(class extends Echo {})).toBe(true);
    expect(isAgentClass(Agent)).toBe(false);
    expect(isAgentClass(class NotAnAgent {})).toBe(false);
    expect(isAgentClass(() => undefined)).toBe(false);
    expect(isAgentClass({ onMessage() {} })).toBe(false);
  });

  it("recognizes subclasses of another copy of Agent, but not that copy itself", () => {
    const brand = Symbol.for("@guildhall/core/Agent");
    class OtherAgent {
      static readonly [brand] = true;
    }
    class Sub extends OtherAgent {}
    expect(isAgentClass(Sub)).toBe(true);
    expect(isAgentClass(OtherAgent)).toBe(false);
  });

  it("gives instances their identity and properties", () => {
    const agent = new Echo({ id: "e", name: "Echo", guildId: "g", properties: { a: 1 } });
    expect(agent).toMatchObject({ id: "e", name: "Echo", guildId: "g", properties: { a: 1 } });
  });
});
