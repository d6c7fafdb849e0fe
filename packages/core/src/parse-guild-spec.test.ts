import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { parseGuildSpec } from "./parse-guild-spec.js";

const yaml = `
id: demo
name: Demo guild
defaultTopic: main
agents:
  - id: initiator
    name: Initiator
    className: "@acme/agents#Initiator"
    additionalTopics: [news]
    restartPolicy: { mode: on-failure, maxRestarts: 3 }
  - id: responder
    name: Responder
    className: /srv/agents/index.js#Responder
    properties:
      greeting: hello
      retries: 2
`;

const expected = {
  id: "demo",
  name: "Demo guild",
  defaultTopic: "main",
  agents: [
    {
      id: "initiator",
      name: "Initiator",
      className: "@acme/agents#Initiator",
      additionalTopics: ["news"],
      restartPolicy: { mode: "on-failure", maxRestarts: 3 },
    },
    {
      id: "responder",
      name: "Responder",
      className: "/srv/agents/index.js#Responder",
      properties: { greeting: "hello", retries: 2 },
    },
  ],
};

function refusal(run: () => unknown): GuildhallError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    expect((error as GuildhallError).code).toBe("invalid-argument");
    return error as GuildhallError;
  }
  throw new Error("expected parseGuildSpec to refuse the text");
}

describe("parseGuildSpec", () => {
  it("reads YAML", () => {
    expect(parseGuildSpec(yaml)).toEqual(expected);
  });

  it("reads JSON, pretty or not", () => {
    expect(parseGuildSpec(JSON.stringify(expected, null, 2))).toEqual(expected);
    expect(parseGuildSpec(`  ${JSON.stringify(expected)}`, { format: "json" })).toEqual(expected);
  });

  it("reads a YAML flow mapping that is not JSON", () => {
    expect(parseGuildSpec("{ id: g, name: G, agents: [] }")).toEqual({
      id: "g",
      name: "G",
      agents: [],
    });
  });

  it("names the path of each bad field", () => {
    const error = refusal(() =>
      parseGuildSpec(
        yaml.replace("id: responder", "id: bad id!").replace("mode: on-failure", "mode: maybe"),
      ),
    );
    expect(error.message).toMatch(
      /^invalid guild spec \(2 problems; fix these fields and try again\):/,
    );
    expect(error.message).toContain("\n  agents[0].restartPolicy.mode: must be one of");
    expect(error.message).toContain("\n  agents[1].id: must match ^[A-Za-z0-9]");
  });

  it("names bad fields of JSON the same way", () => {
    const json = JSON.stringify({ ...expected, agents: [{ ...expected.agents[0], extra: 1 }] });
    expect(refusal(() => parseGuildSpec(json)).message).toContain(
      "agents[0].extra: unknown field; check its spelling or remove it",
    );
  });

  it("reports duplicate agent ids", () => {
    const error = refusal(() => parseGuildSpec(yaml.replace("id: responder", "id: initiator")));
    expect(error.message).toContain('agents[1].id: duplicate agent id "initiator"');
  });

  it("names the source first", () => {
    expect(refusal(() => parseGuildSpec("id: [", { source: "guild.yaml" })).message).toMatch(
      /^guild\.yaml: cannot parse the guild spec as YAML/,
    );
    expect(refusal(() => parseGuildSpec("id: g", { source: "guild.yaml" })).message).toMatch(
      /^guild\.yaml: invalid guild spec/,
    );
  });

  it("gives the line and column of a YAML syntax error", () => {
    const error = refusal(() => parseGuildSpec("id: g\nname: [unclosed\nagents: []\n"));
    expect(error.message).toMatch(/^cannot parse the guild spec as YAML: .* at line 3, column 1/);
  });

  it("refuses duplicate YAML keys and several documents", () => {
    expect(refusal(() => parseGuildSpec("id: a\nid: b\n")).message).toMatch(
      /Map keys must be unique at line 2, column 1/,
    );
    expect(refusal(() => parseGuildSpec("id: a\n---\nid: b\n")).message).toMatch(
      /multiple documents/,
    );
  });

  it("gives the line and column of a JSON syntax error", () => {
    const text = '{\n  "id": "g",\n  "name": "G"\n  "agents": []\n}';
    const error = refusal(() => parseGuildSpec(text));
    expect(error.message).toMatch(
      /^cannot parse the guild spec as JSON at line 4, column 3: .+\. Fix the syntax, or write it as YAML$/,
    );
    expect(refusal(() => parseGuildSpec('{"id": ', { format: "json" })).message).toMatch(
      /^cannot parse the guild spec as JSON/,
    );
  });

  it("parses JSON text as YAML when asked", () => {
    expect(parseGuildSpec(JSON.stringify(expected), { format: "yaml" })).toEqual(expected);
  });

  it("refuses empty text and text that is not a mapping", () => {
    expect(refusal(() => parseGuildSpec("")).message).toBe(
      "the guild spec is empty: write a mapping with at least id, name and agents",
    );
    expect(refusal(() => parseGuildSpec("# only a comment\n")).message).toMatch(/is empty/);
    expect(refusal(() => parseGuildSpec("- a\n- b\n")).message).toMatch(
      /must be a mapping .* not a list/,
    );
    expect(refusal(() => parseGuildSpec("just text")).message).toMatch(/not a string/);
    expect(refusal(() => parseGuildSpec("[1]", { format: "json" })).message).toMatch(/not a list/);
  });

  it("refuses alias bombs", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++) {
      const name = String.fromCharCode(98 + i);
      const prev = String.fromCharCode(97 + i);
      bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    expect(refusal(() => parseGuildSpec(bomb.join("\n"))).message).toMatch(
      /^cannot read the guild spec as YAML: Excessive alias count/,
    );
  });
});
