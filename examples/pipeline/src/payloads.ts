// The messages of the pipeline, and the checks that recognise them on a topic every agent shares.
import type { JsonValue } from "@guildhall/core";

type JsonObject = { [key: string]: JsonValue };

/** A job: text to analyse, published on the default topic by whoever wants it done. */
export interface Job {
  readonly text: string;
}

/** One word of a job, sent by the splitter to one worker's inbox. */
export interface Piece {
  readonly jobId: string;
  readonly part: number;
  readonly parts: number;
  readonly word: string;
}

/** A worker's finding about one piece, published on the `results` topic. */
export interface PieceResult {
  readonly jobId: string;
  readonly part: number;
  readonly parts: number;
  readonly word: string;
  readonly letters: number;
  readonly vowels: number;
  readonly worker: string;
}

function isObject(value: JsonValue): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `value` is a {@link Job}. */
export function isJob(value: JsonValue): value is JsonObject & Job {
  return isObject(value) && typeof value["text"] === "string";
}

/** Whether `value` is a {@link Piece}. */
export function isPiece(value: JsonValue): value is JsonObject & Piece {
  return (
    isObject(value) &&
    typeof value["jobId"] === "string" &&
    typeof value["word"] === "string" &&
    typeof value["part"] === "number" &&
    typeof value["parts"] === "number"
  );
}

/** Whether `value` is a {@link PieceResult}. */
export function isPieceResult(value: JsonValue): value is JsonObject & PieceResult {
  return (
    isPiece(value) && typeof value["letters"] === "number" && typeof value["worker"] === "string"
  );
}
