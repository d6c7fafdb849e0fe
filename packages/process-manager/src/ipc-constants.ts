// Values both ends of the IPC channel agree on, apart from the schemas: the runner imports these
// without loading zod (see agent-process/runner-messages.ts).

/** Bumped whenever a message changes shape; the host refuses a runner that speaks another one. */
export const PROTOCOL_VERSION = 4;

/** Runner argument of pool processes: warm up validation before reporting in. */
export const WARM_UP_FLAG = "--warm-up";
