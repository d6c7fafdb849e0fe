// The durable side of RedisBus (core's AgentStore, DESIGN section 12): agent records, positions and
// fences next to the streams, in the same guild hash tag; and their timers (DESIGN section 13),
// one hash per agent. Claim, commit, fire and delete are one Lua script each (lua/), so a commit's
// state, position, timer changes and released messages land together or not at all, in one round
// trip, and a fired timer's message lands with the timer's removal.
import {
  GuildhallError,
  checkTimerChanges,
  inboxTopic,
  type AgentCheckpoint,
  type AgentCommit,
  type AgentTimer,
  type ClaimAgentOptions,
  type CommitResult,
  type FireTimer,
  type FireTimerResult,
  type TopicPosition,
} from "@guildhall/core";
import { LuaScripts } from "@guildhall/registry";
import type { Redis } from "ioredis";
import { agentKey, cursorsKey, streamKey, timersKey } from "./keys.js";
import { ScriptError } from "./script-error.js";
import {
  checkAgentId,
  checkGuildId,
  checkPosition,
  checkPositiveInteger,
  checkTopic,
  encodeMessage,
  invalid,
} from "./validate.js";

/**
 * The scripts in lua/ take as many keys as the agent has topics or the commit has messages, so
 * each file is `<name>-n.lua` and every call states its key count.
 */
const SCRIPT_KEYS = {
  "claim-agent": "n",
  "commit-agent": "n",
  "delete-agent": "n",
  "fire-timer": 3,
} as const;

/** The largest state a commit stores, in bytes of its JSON: far above any host's own limit. */
const MAX_STATE_BYTES = 64 * 1_048_576;
/** How often deleteAgent reads the topics again when claims keep adding some meanwhile. */
const MAX_DELETE_ATTEMPTS = 10;

/** What the store needs from its bus. */
export interface RedisAgentStoreOptions {
  readonly prefix: string;
  readonly maxLenPerTopic: number;
  readonly trimAboveEntries: number;
  readonly tombstoneTtlMs: number;
  readonly maxPayloadBytes: number;
  /**
   * Runs `command` on the bus's command connection as operation `operation` (refused once the bus
   * is closed); its failures become GuildhallErrors starting with `what`.
   */
  readonly call: <T>(operation: string, what: string, command: () => Promise<T>) => Promise<T>;
}

const COMMIT_RESULTS: Readonly<Record<number, CommitResult>> = {
  1: "committed",
  0: "duplicate",
  [ScriptError.Fenced]: "fenced",
  [ScriptError.Unknown]: "unknown",
};

const FIRE_RESULTS: Readonly<Record<number, FireTimerResult>> = {
  1: "fired",
  0: "gone",
  [ScriptError.Fenced]: "fenced",
  [ScriptError.Unknown]: "unknown",
};

/** Pending timers as the timers hash holds them (JSON values, any order), soonest first. */
function parseTimers(values: readonly unknown[]): AgentTimer[] {
  return values
    .map((value) => JSON.parse(String(value)) as AgentTimer)
    .sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function agentName(guildId: string, agentId: string): string {
  return `agent "${agentId}" of guild "${guildId}"`;
}

function wrongType(what: string): GuildhallError {
  return new GuildhallError(
    "failed-precondition",
    `${what}: a key of the bus holds another type than the bus writes there. Another application ` +
      "uses the same keys: give the bus its own prefix.",
  );
}

function checkTopics(topics: unknown): string[] {
  if (!Array.isArray(topics)) {
    throw invalid(`claim option topics must be an array of topic names, not ${typeof topics}`);
  }
  return [...new Set(topics.map(checkTopic))];
}

function checkState(state: unknown): string {
  if (typeof state !== "string" || state.length === 0) {
    throw invalid(
      `commit state must be JSON text, not ${state === "" ? "an empty string" : typeof state}; ` +
        "leave it out when the state did not change",
    );
  }
  const bytes = Buffer.byteLength(state);
  if (bytes > MAX_STATE_BYTES) {
    throw invalid(
      `commit state is ${bytes} bytes, over the bus limit of ${MAX_STATE_BYTES} bytes; keep ` +
        "large data elsewhere and a reference to it in the state",
    );
  }
  return state;
}

/** Agent records of one RedisBus. */
export class RedisAgentStore {
  readonly #client: Redis;
  readonly #scripts: LuaScripts<keyof typeof SCRIPT_KEYS>;
  readonly #options: RedisAgentStoreOptions;

  constructor(client: Redis, options: RedisAgentStoreOptions) {
    this.#client = client;
    this.#scripts = new LuaScripts(client, {
      dir: new URL("./lua/", import.meta.url),
      scripts: SCRIPT_KEYS,
      commandPrefix: "guildhall_bus_",
    });
    this.#options = options;
  }

  async claimAgent(
    guildId: string,
    agentId: string,
    options: ClaimAgentOptions,
  ): Promise<AgentCheckpoint> {
    checkGuildId(guildId);
    checkAgentId(agentId);
    if (typeof options !== "object" || (options as unknown) === null) {
      throw invalid("claimAgent needs options: { epoch, topics }");
    }
    const epoch = checkPositiveInteger("claim epoch", options.epoch);
    const topics = checkTopics(options.topics);
    const { prefix } = this.#options;
    const name = agentName(guildId, agentId);
    const what = `could not claim ${name} under placement epoch ${epoch}`;
    const reply = await this.#options.call("claim an agent", what, () =>
      this.#scripts.run(
        "claim-agent",
        [
          agentKey(prefix, guildId, agentId),
          timersKey(prefix, guildId, agentId),
          ...topics.map((topic) => cursorsKey(prefix, guildId, topic)),
          ...topics.map((topic) => streamKey(prefix, guildId, topic)),
        ],
        [epoch, agentId, JSON.stringify(topics)],
      ),
    );
    const [first, second, ...rest] = reply as unknown[];
    if (first === ScriptError.Fenced) {
      throw new GuildhallError(
        "aborted",
        rest[0] === "1"
          ? `${what}: it was stopped (deleted) under epoch ${String(second)}; only a newer ` +
              "placement can start it again, afresh"
          : `${what}: a newer placement holds it, under epoch ${String(second)}. This copy is ` +
              "stale: stop it; the newer placement runs the agent",
      );
    }
    const positions: Record<string, TopicPosition> = {};
    topics.forEach((topic, i) => (positions[topic] = String(rest[i])));
    return {
      state: typeof first === "string" ? first : undefined,
      commits: Number(second),
      positions,
      timers: parseTimers(rest.slice(topics.length)),
    };
  }

  async commitAgent(guildId: string, agentId: string, commit: AgentCommit): Promise<CommitResult> {
    checkGuildId(guildId);
    checkAgentId(agentId);
    if (typeof commit !== "object" || (commit as unknown) === null) {
      throw invalid("commitAgent needs a commit: { epoch, sequence, state?, position?, messages }");
    }
    const epoch = checkPositiveInteger("commit epoch", commit.epoch);
    const sequence = checkPositiveInteger("commit sequence", commit.sequence);
    const state = commit.state === undefined ? "" : checkState(commit.state);
    let handled: { topic: string; position: string } | undefined;
    if (commit.position !== undefined) {
      handled = {
        topic: checkTopic(commit.position.topic),
        position: checkPosition("commit position", commit.position.position),
      };
    }
    const messages: unknown = commit.messages;
    if (!Array.isArray(messages)) {
      throw invalid(`commit messages must be an array, not ${typeof messages}`);
    }
    const { prefix, maxPayloadBytes } = this.#options;
    const jsons = commit.messages.map((message) => encodeMessage(message, maxPayloadBytes));
    const timers = commit.timers === undefined ? undefined : checkTimerChanges(commit.timers);
    const timerArgs: string[] = [];
    for (const timer of timers?.schedule ?? []) timerArgs.push(timer.id, JSON.stringify(timer));
    const keys = [agentKey(prefix, guildId, agentId)];
    if (handled !== undefined) {
      keys.push(
        cursorsKey(prefix, guildId, handled.topic),
        streamKey(prefix, guildId, handled.topic),
      );
    }
    // Only a commit that changes timers names their hash: the others cost nothing more.
    const cancelled = timers?.cancel ?? [];
    if (cancelled.length + timerArgs.length > 0) keys.push(timersKey(prefix, guildId, agentId));
    for (const message of commit.messages) keys.push(streamKey(prefix, guildId, message.topic));
    const name = agentName(guildId, agentId);
    const what = `could not commit ${sequence} of ${name}`;
    const reply = await this.#options.call("commit an agent", what, () =>
      this.#scripts.run("commit-agent", keys, [
        epoch,
        sequence,
        state,
        agentId,
        handled?.position ?? "",
        handled?.topic ?? "",
        this.#options.maxLenPerTopic,
        this.#options.trimAboveEntries,
        cancelled.length,
        timerArgs.length / 2,
        ...cancelled,
        ...timerArgs,
        ...jsons,
      ]),
    );
    const result = COMMIT_RESULTS[reply as number];
    if (result !== undefined) return result;
    if (reply === ScriptError.OutOfOrder) {
      throw invalid(
        `${what}: it is not the next commit after the last one stored. Number commits from the ` +
          "claim's checkpoint: commits + 1, then one more each, with no gaps",
      );
    }
    if (reply === ScriptError.WrongType) throw wrongType(what);
    throw new GuildhallError("internal", `${what}: the commit script answered ${String(reply)}`);
  }

  async deleteAgent(guildId: string, agentId: string): Promise<void> {
    checkGuildId(guildId);
    checkAgentId(agentId);
    const { prefix } = this.#options;
    const key = agentKey(prefix, guildId, agentId);
    const what = `could not delete ${agentName(guildId, agentId)}`;
    for (let attempt = 0; attempt < MAX_DELETE_ATTEMPTS; attempt++) {
      const reply = await this.#options.call("delete an agent", what, async () => {
        const topics = (await this.#client.hget(key, "topics")) ?? "";
        const names = topics === "" ? [] : (JSON.parse(topics) as string[]);
        return this.#scripts.run(
          "delete-agent",
          [
            key,
            timersKey(prefix, guildId, agentId),
            ...names.map((topic) => cursorsKey(prefix, guildId, topic)),
          ],
          [agentId, topics, this.#options.tombstoneTtlMs],
        );
      });
      if (reply === 0 || reply === 1) return;
      if (reply !== ScriptError.TopicsChanged) {
        throw new GuildhallError(
          "internal",
          `${what}: the delete script answered ${String(reply)}`,
        );
      }
    }
    throw new GuildhallError(
      "aborted",
      `${what}: its topics kept changing while it was being deleted (claims under way); retry ` +
        "once no placement claims it",
    );
  }

  async fireTimer(guildId: string, agentId: string, fire: FireTimer): Promise<FireTimerResult> {
    checkGuildId(guildId);
    checkAgentId(agentId);
    if (typeof fire !== "object" || (fire as unknown) === null) {
      throw invalid("fireTimer needs { epoch, message }");
    }
    const epoch = checkPositiveInteger("fire epoch", fire.epoch);
    const inbox = inboxTopic(agentId);
    if (fire.message?.topic !== inbox) {
      throw invalid(
        `a timer of agent "${agentId}" fires on its inbox "${inbox}", not on ` +
          JSON.stringify(fire.message?.topic),
      );
    }
    const { prefix, maxPayloadBytes } = this.#options;
    const json = encodeMessage(fire.message, maxPayloadBytes);
    const id = fire.message.id;
    const what = `could not fire timer ${id} of ${agentName(guildId, agentId)}`;
    const reply = await this.#options.call("fire a timer", what, () =>
      this.#scripts.run(
        "fire-timer",
        [
          agentKey(prefix, guildId, agentId),
          timersKey(prefix, guildId, agentId),
          streamKey(prefix, guildId, inbox),
        ],
        [epoch, id, json, this.#options.maxLenPerTopic],
      ),
    );
    const result = FIRE_RESULTS[reply as number];
    if (result !== undefined) return result;
    if (reply === ScriptError.WrongType) throw wrongType(what);
    throw new GuildhallError("internal", `${what}: the fire script answered ${String(reply)}`);
  }

  async readAgent(guildId: string, agentId: string): Promise<AgentCheckpoint | undefined> {
    checkGuildId(guildId);
    checkAgentId(agentId);
    const { prefix } = this.#options;
    const what = `could not read ${agentName(guildId, agentId)}`;
    return this.#options.call("read an agent", what, async () => {
      const [epoch, deleted, state, commits, topics] = await this.#client.hmget(
        agentKey(prefix, guildId, agentId),
        "epoch",
        "deleted",
        "state",
        "commits",
        "topics",
      );
      if (epoch == null || deleted === "1") return undefined;
      const names = topics == null ? [] : (JSON.parse(topics) as string[]);
      const pipeline = this.#client.pipeline();
      for (const topic of names) pipeline.hget(cursorsKey(prefix, guildId, topic), agentId);
      pipeline.hvals(timersKey(prefix, guildId, agentId));
      const results = (await pipeline.exec()) ?? [];
      const [timersError, timers] = results[names.length] ?? [new Error("no reply to HVALS"), []];
      if (timersError !== null) throw timersError;
      const positions: Record<string, TopicPosition> = {};
      names.forEach((topic, i) => {
        const [error, position] = results[i] ?? [new Error("no reply to HGET"), null];
        if (error !== null) throw error;
        if (typeof position === "string") positions[topic] = position;
      });
      return {
        state: state ?? undefined,
        commits: Number(commits ?? 0),
        positions,
        timers: parseTimers(timers as unknown[]),
      };
    });
  }
}
