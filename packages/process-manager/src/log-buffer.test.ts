import { describe, expect, it } from "vitest";
import { LogBuffer } from "./log-buffer.js";

describe("LogBuffer", () => {
  it("keeps the last `capacity` lines in order, numbered without gaps", () => {
    const buffer = new LogBuffer(3);
    for (let lineNumber = 1; lineNumber <= 5; lineNumber++)
      buffer.append("stdout", 7, `line ${lineNumber}`);
    expect(buffer.lines().map((line) => [line.seq, line.text])).toEqual([
      [3, "line 3"],
      [4, "line 4"],
      [5, "line 5"],
    ]);
    expect(buffer.lines(1).map((line) => line.text)).toEqual(["line 5"]);
    expect(buffer.lines(0)).toEqual([]);
  });

  it("follows: buffered lines first, then new ones, until closed", async () => {
    const buffer = new LogBuffer(10);
    buffer.append("stdout", 1, "old");
    const follow = buffer.follow();
    expect((await follow.next()).value).toMatchObject({ text: "old" });
    const pending = follow.next();
    buffer.append("stderr", 1, "new");
    expect((await pending).value).toMatchObject({ text: "new", stream: "stderr" });
    buffer.append("stdout", 1, "last");
    buffer.close();
    expect((await follow.next()).value).toMatchObject({ text: "last" });
    expect((await follow.next()).done).toBe(true);
    buffer.append("stdout", 1, "ignored");
    expect(buffer.lines().map((line) => line.text)).toEqual(["old", "new", "last"]);
  });

  it("drops the oldest pending lines of a slow follower", async () => {
    const buffer = new LogBuffer(2);
    const follow = buffer.follow();
    for (let lineNumber = 1; lineNumber <= 4; lineNumber++)
      buffer.append("stdout", 1, `l${lineNumber}`);
    expect((await follow.next()).value).toMatchObject({ seq: 3 });
    await follow.return?.();
    expect((await follow.next()).done).toBe(true);
  });

  it("subscribe and unsubscribe", () => {
    const buffer = new LogBuffer(2);
    const seen: string[] = [];
    const off = buffer.subscribe((line) => seen.push(line.text));
    buffer.append("stdout", 1, "a");
    off();
    buffer.append("stdout", 1, "b");
    expect(seen).toEqual(["a"]);
  });
});
