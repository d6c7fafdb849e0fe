// How the bus tells, from XINFO STREAM, whether a reader lost entries it needed.
import { describe, expect, it } from "vitest";
import { compareStreamIds, lostAfter, parseStreamInfo, type StreamInfo } from "./stream-id.js";

function info(fields: Partial<StreamInfo>): StreamInfo {
  return {
    length: undefined,
    firstEntryId: undefined,
    lastGeneratedId: undefined,
    entriesAdded: undefined,
    maxDeletedEntryId: "0-0",
    ...fields,
  };
}

describe("stream ids", () => {
  it("compares exactly past 2^53", () => {
    expect(compareStreamIds("18446744073709551615-0", "18446744073709551614-9")).toBeGreaterThan(0);
    expect(compareStreamIds("5-10", "5-9")).toBeGreaterThan(0);
    expect(compareStreamIds("5-1", "5-1")).toBe(0);
  });

  it("reads the fields of an XINFO STREAM reply", () => {
    const reply = [
      "length",
      2,
      "last-generated-id",
      "9-0",
      "max-deleted-entry-id",
      "0-0",
      "entries-added",
      5,
      "first-entry",
      ["8-0", ["m", "{}"]],
      "last-entry",
      ["9-0", ["m", "{}"]],
    ];
    expect(parseStreamInfo(reply)).toEqual({
      length: 2,
      firstEntryId: "8-0",
      lastGeneratedId: "9-0",
      entriesAdded: 5,
      maxDeletedEntryId: "0-0",
    });
  });
});

describe("lostAfter", () => {
  const untouched = info({
    length: 3,
    entriesAdded: 3,
    firstEntryId: "5-0",
    lastGeneratedId: "7-0",
  });
  const trimmed = info({ length: 3, entriesAdded: 9, firstEntryId: "5-0", lastGeneratedId: "7-0" });

  it("finds no loss in a stream that never dropped an entry", () => {
    expect(lostAfter(untouched, "0-0")).toBeUndefined();
  });

  it("finds no loss when the position is still held", () => {
    expect(lostAfter(trimmed, "5-0")).toBeUndefined();
    expect(lostAfter(trimmed, "6-3")).toBeUndefined();
  });

  it("reports up to just before the first held entry when trimming passed the position", () => {
    expect(lostAfter(trimmed, "2-0")).toBe("4-18446744073709551615");
    expect(lostAfter(info({ ...trimmed, firstEntryId: "5-3" }), "2-0")).toBe("5-2");
  });

  it("reports everything after the position of a stream trimmed empty", () => {
    const empty = info({ length: 0, entriesAdded: 4, lastGeneratedId: "7-0" });
    expect(lostAfter(empty, "3-0")).toBe("7-0");
    expect(lostAfter(empty, "7-0")).toBeUndefined();
  });

  it("reports entries deleted after the position", () => {
    expect(lostAfter(info({ ...untouched, maxDeletedEntryId: "6-0" }), "5-0")).toBe("6-0");
  });

  it("cannot tell a trimmed stream before Redis 7.0, and reports nothing", () => {
    expect(
      lostAfter(info({ length: 3, firstEntryId: "5-0", maxDeletedEntryId: undefined }), "0-0"),
    ).toBeUndefined();
  });
});
