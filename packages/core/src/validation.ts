// Turns zod's findings into messages a person can act on: each names the path of the bad field
// (`agents[1].id`) and what it must be. Hosts validate specs received over RPC with the same
// functions, so a bad spec reads the same whether it came from a file or the wire.
import type { z } from "zod";
import { GuildhallError } from "./errors.js";
import { Message, ParsedMessage } from "./message.js";
import { lazySchema } from "./lazy-module.js";
import { AgentSpec, GuildSpec, MessagingConfig } from "./spec.js";

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `agents[1].restartPolicy.mode`: the path of a field in the notation of JavaScript. */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && IDENTIFIER.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      if (/received undefined$/.test(issue.message)) {
        return `is required (expected ${issue.expected})`;
      }
      return issue.message.replace(/^Invalid input: /, "");
    case "too_small":
    case "too_big": {
      if (!/^Too (small|big)/.test(issue.message)) return issue.message;
      const least = issue.code === "too_small";
      const bound = least ? issue.minimum : issue.maximum;
      const strict = issue.inclusive === false;
      const word = least ? (strict ? "more than" : "at least") : strict ? "less than" : "at most";
      if (issue.origin === "string") return `must be ${word} ${bound} characters long`;
      if (issue.origin === "array" || issue.origin === "set")
        return `must have ${word} ${bound} items`;
      return `must be ${word} ${bound}`;
    }
    case "invalid_union": {
      if ("options" in issue && Array.isArray(issue.options)) {
        return `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}`;
      }
      const expected = issue.errors
        .flatMap((branch) => branch)
        .filter((sub) => sub.code === "invalid_type" && sub.path.length === 0)
        .map((sub) => (sub.code === "invalid_type" ? sub.expected : ""));
      if (expected.length > 0) return `must be one of: ${[...new Set(expected)].join(", ")}`;
      return issue.message;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message;
  }
}

/**
 * One line per problem, each `<path>: <what it must be>`, e.g.
 * `agents[1].id: must match ^[A-Za-z0-9]…`. Unknown fields are reported at their own path.
 */
export function formatZodIssues(issues: readonly Issue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        lines.push(
          `${formatPath([...issue.path, key])}: unknown field; check its spelling or remove it`,
        );
      }
      continue;
    }
    const where = formatPath(issue.path);
    lines.push(`${where === "" ? "(root)" : where}: ${describeIssue(issue)}`);
  }
  return lines;
}

/** What a validated value is called in error messages. */
export interface ValidateOptions {
  /** Named first in error messages, e.g. a file name. Default: the kind of value ("guild spec"). */
  source?: string;
}

function validator<T>(schema: z.ZodType<T>, what: string, hint: string) {
  return (value: unknown, options: ValidateOptions = {}): T => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const lines = formatZodIssues(result.error.issues);
    const prefix = options.source === undefined ? "" : `${options.source}: `;
    const count = lines.length === 1 ? "1 problem" : `${lines.length} problems`;
    throw new GuildhallError(
      "invalid-argument",
      `${prefix}invalid ${what} (${count}; ${hint}):\n  ${lines.join("\n  ")}`,
      { cause: result.error },
    );
  };
}

/**
 * Checks that `value` is an {@link AgentSpec} and returns it.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export const validateAgentSpec: (value: unknown, options?: ValidateOptions) => AgentSpec =
  validator(AgentSpec, "agent spec", "fix these fields and try again");

/**
 * Checks that `value` is a {@link GuildSpec} (agent ids unique) and returns it.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export const validateGuildSpec: (value: unknown, options?: ValidateOptions) => GuildSpec =
  validator(GuildSpec, "guild spec", "fix these fields and try again");

// What an engine needs of a guild to run one agent in it. Checking the whole guild on every
// runAgent would cost O(agents) per call, O(agents²) to launch a guild.
const GuildReference = lazySchema((z) =>
  z.looseObject({
    id: GuildSpec.shape.id,
    defaultTopic: GuildSpec.shape.defaultTopic,
  }),
);

/**
 * Checks the fields of a guild spec an engine uses to run one of its agents (`id`,
 * `defaultTopic`), ignoring the others; returns those two.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export const validateGuildReference: (
  value: unknown,
  options?: ValidateOptions,
) => Pick<GuildSpec, "id" | "defaultTopic"> = validator(
  GuildReference,
  "guild spec",
  "fix these fields and try again",
);

/**
 * Checks that `value` is a {@link MessagingConfig} and returns it.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export const validateMessagingConfig: (
  value: unknown,
  options?: ValidateOptions,
) => MessagingConfig = validator(
  MessagingConfig,
  "messaging config",
  'use { backend: "memory" } or { backend: "redis", url: "redis://…" }',
);

const checkMessage = validator(Message, "message", "build messages with createMessage");
const checkParsedMessage = validator(ParsedMessage, "message", "build messages with createMessage");

/**
 * Messages known to be valid: those {@link validateMessage} returned, and those the buses hand to
 * subscribers (parsed from JSON they validated). A message crosses several layers of one process
 * on its way (bus, host, process manager), and each checks what it is given; with this, only the
 * first check costs anything.
 */
const validMessages = new WeakSet<object>();

/** Records `message`, parsed from JSON a bus validated, as valid (see `validMessages`). */
export function rememberValidMessage(message: Message): Message {
  validMessages.add(message);
  return message;
}

/**
 * Checks that `value` is a {@link Message} and returns it: what a bus or a host does with
 * anything it receives from outside the process. A message it returned (or a bus delivered) is
 * returned at once when given again, so treat messages as immutable: one changed after its check
 * is not checked again.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export function validateMessage(value: unknown, options?: ValidateOptions): Message {
  return checkOnce(checkMessage, value, options);
}

/**
 * {@link validateMessage} for a message whose payload `JSON.parse` returned (so it is JSON by
 * construction): every other field is checked as validateMessage checks it, in a fraction of its
 * time. A host runs it on each message an agent sends, built from a frame it parsed.
 *
 * @throws GuildhallError `invalid-argument` naming the path of each bad field.
 */
export function validateParsedMessage(value: unknown, options?: ValidateOptions): Message {
  return checkOnce(checkParsedMessage, value, options);
}

/** `value` as it is when it was checked before, else as `check` returns it, remembered. */
function checkOnce(
  check: (value: unknown, options?: ValidateOptions) => Message,
  value: unknown,
  options: ValidateOptions | undefined,
): Message {
  if (typeof value === "object" && value !== null && validMessages.has(value)) {
    return value as Message;
  }
  return rememberValidMessage(check(value, options));
}
