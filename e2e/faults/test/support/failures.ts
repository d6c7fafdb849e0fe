// Whether a test of the current file failed, so teardown keeps evidence (host logs) only then.
// A setup file: vitest loads it into every test file, where its hook sees each test's outcome.
import { afterEach } from "vitest";

let failed = false;

afterEach(({ task }) => {
  if (task.result?.state === "fail") failed = true;
});

/** Whether a test of this file has failed so far. */
export function aTestFailed(): boolean {
  return failed;
}
