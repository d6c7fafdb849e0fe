// Message ids that need no coordination between machines: a fixed-width text of
// `time | machine | sequence`, each part in Crockford base32. The alphabet is in ASCII order and
// every part has a fixed width, so comparing two ids as strings compares their creation times.
import type * as NodeCrypto from "node:crypto";
import { GuildhallError } from "./errors.js";

// node:crypto is loaded when the first id is made, not when the package is: agent processes import
// this package but never make ids (their host does), and loading it costs them a few milliseconds.
const crypto = (): typeof NodeCrypto => process.getBuiltinModule("node:crypto");

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10; // 50 bits of milliseconds: good until the year 37648
const MACHINE_CHARS = 8; // 40 bits
const SEQUENCE_CHARS = 8; // 40 bits
const MAX_TIME = 2 ** 50 - 1;
const MAX_MACHINE = 2 ** 40 - 1;
const MAX_SEQUENCE = 2 ** 40 - 1;

/** Length of every message id made by {@link createMessageIdGenerator}. */
export const MESSAGE_ID_LENGTH = TIME_CHARS + MACHINE_CHARS + SEQUENCE_CHARS;

const ID_SHAPE = new RegExp(`^[${ALPHABET}]{${MESSAGE_ID_LENGTH}}$`);

/** Options of {@link createMessageIdGenerator}. */
export interface MessageIdGeneratorOptions {
  /**
   * This machine's part of every id: an integer in `[0, 2^40)` used as is, or any string (a host
   * name, a pod name), hashed to 40 bits. Default: 40 random bits drawn once per process (per
   * worker thread), which makes a collision with another live machine very unlikely without any
   * coordination.
   */
  machineId?: number | string;
  /** The clock, in milliseconds since the Unix epoch. Default `Date.now`. */
  now?: () => number;
}

/** Makes message ids for one machine. */
export interface MessageIdGenerator {
  /** This machine's id part, as it appears in every id (8 characters). */
  readonly machineId: string;
  /** A new id, greater (as a string) than every id this machine made before. */
  next(): string;
}

/** The parts of a message id. */
export interface MessageIdParts {
  /** When the id was made, in milliseconds since the Unix epoch. */
  timeMs: number;
  /** The machine that made it (8 characters). */
  machineId: string;
  /** Its position among the ids of that machine: strictly increasing. */
  sequence: number;
}

// Two base32 digits per lookup: ids are made on every publish, so encoding is kept cheap.
const PAIRS = Array.from({ length: 1024 }, (_, i) => ALPHABET[i >> 5]! + ALPHABET[i & 31]!);

function encode(value: number, width: number): string {
  let out = "";
  let rest = value;
  let left = width;
  for (; left >= 2; left -= 2) {
    out = PAIRS[rest % 1024]! + out;
    rest = Math.floor(rest / 1024);
  }
  return left === 1 ? ALPHABET[rest % 32]! + out : out;
}

function decode(text: string): number {
  let value = 0;
  for (const char of text) value = value * 32 + ALPHABET.indexOf(char);
  return value;
}

interface MachineState {
  lastMs: number;
  sequence: number;
}

// Generators of one machine id in one process share their state, so two of them can never hand
// out the same id.
const machines = new Map<string, MachineState>();
let processMachineId: string | undefined;

function machinePart(machineId: number | string | undefined): string {
  if (machineId === undefined) {
    processMachineId ??= encode(crypto().randomBytes(5).readUIntBE(0, 5), MACHINE_CHARS);
    return processMachineId;
  }
  if (typeof machineId === "string") {
    if (machineId.length === 0) {
      throw new GuildhallError(
        "invalid-argument",
        "machineId must not be empty: pass a host name, an integer, or nothing for a random id",
      );
    }
    const digest = crypto().createHash("sha256").update(machineId).digest();
    return encode(digest.readUIntBE(0, 5), MACHINE_CHARS);
  }
  if (!Number.isInteger(machineId) || machineId < 0 || machineId > MAX_MACHINE) {
    throw new GuildhallError(
      "invalid-argument",
      `machineId ${machineId} must be an integer from 0 to ${MAX_MACHINE} (40 bits), a string, or omitted`,
    );
  }
  return encode(machineId, MACHINE_CHARS);
}

/**
 * Creates a generator of message ids that are unique across machines and sort, as strings, by
 * creation time.
 *
 * An id is 26 characters: the time in milliseconds, the machine id and a per-machine sequence
 * number, each fixed-width Crockford base32. The sequence never resets, so an id is unique by its
 * machine and sequence alone, and the time part never goes back: if the clock steps back, ids keep
 * the last time seen until the clock catches up, so each machine's ids strictly increase.
 *
 * @example
 * ```ts
 * const ids = createMessageIdGenerator({ machineId: "host-7" });
 * ids.next(); // "01JDZ3V6QF" + machine + sequence
 * ```
 */
export function createMessageIdGenerator(
  options: MessageIdGeneratorOptions = {},
): MessageIdGenerator {
  const machine = machinePart(options.machineId);
  const now = options.now ?? Date.now;
  let state = machines.get(machine);
  if (state === undefined) {
    state = { lastMs: -1, sequence: -1 };
    machines.set(machine, state);
  }
  const shared = state;
  let prefixMs = -1;
  let prefix = "";
  return {
    machineId: machine,
    next(): string {
      const clock = Math.floor(now());
      if (clock > shared.lastMs) shared.lastMs = clock;
      if (shared.sequence >= MAX_SEQUENCE) {
        // A wrapped sequence must still sort after the ids made before it.
        shared.sequence = 0;
        shared.lastMs += 1;
      } else {
        shared.sequence += 1;
      }
      if (shared.lastMs > MAX_TIME || shared.lastMs < 0) {
        throw new GuildhallError(
          "internal",
          `the clock reads ${clock} ms, outside what message ids can hold (0 to ${MAX_TIME}); check the system clock`,
        );
      }
      if (shared.lastMs !== prefixMs) {
        prefixMs = shared.lastMs;
        prefix = encode(prefixMs, TIME_CHARS) + machine;
      }
      return prefix + encode(shared.sequence, SEQUENCE_CHARS);
    },
  };
}

/** Whether `id` has the shape of an id made by {@link createMessageIdGenerator}. */
export function isMessageId(id: string): boolean {
  return ID_SHAPE.test(id);
}

/**
 * Splits an id made by {@link createMessageIdGenerator} into its time, machine and sequence.
 *
 * @throws GuildhallError `invalid-argument` if `id` does not have that shape.
 */
export function parseMessageId(id: string): MessageIdParts {
  if (!isMessageId(id)) {
    throw new GuildhallError(
      "invalid-argument",
      `"${id}" is not a Guildhall message id: expected ${MESSAGE_ID_LENGTH} characters of Crockford base32`,
    );
  }
  return {
    timeMs: decode(id.slice(0, TIME_CHARS)),
    machineId: id.slice(TIME_CHARS, TIME_CHARS + MACHINE_CHARS),
    sequence: decode(id.slice(TIME_CHARS + MACHINE_CHARS)),
  };
}

let processGenerator: MessageIdGenerator | undefined;

/** The generator of this process, with its random machine id; what `createMessage` uses by default. */
export function defaultMessageIdGenerator(): MessageIdGenerator {
  processGenerator ??= createMessageIdGenerator();
  return processGenerator;
}

/**
 * One string for a guild's agent, for maps keyed by both ids. NUL cannot occur in an id
 * (ID_PATTERN), so two different pairs never share a key.
 */
export function agentKey(guildId: string, agentId: string): string {
  return `${guildId}\u0000${agentId}`;
}
