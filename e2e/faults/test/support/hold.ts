// Some guarantees hold over a stretch of time ("no agent restarts while Redis is down"), so they
// are watched, not waited for: the check runs until the stretch ends and its first failure fails
// the test at once (waitFor would take a failing check for "not yet" and try again).

/** Runs `check` every `intervalMs` until the clock passes `untilMs` (ms since the epoch). */
export async function holdUntil(
  untilMs: number,
  check: () => void | Promise<void>,
  intervalMs = 100,
): Promise<void> {
  for (;;) {
    await check();
    if (Date.now() >= untilMs) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, untilMs - Date.now())));
  }
}
