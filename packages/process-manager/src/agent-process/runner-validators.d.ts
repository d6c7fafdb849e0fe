// Types of dist/agent-process/runner-validators.js, which the build generates from the zod
// schemas of ipc-protocol.ts (scripts/generate-validators.mjs). Each function is an Ajv
// standalone validator: it returns whether `data` is valid and leaves the first problem in
// `errors`.

/** One problem found by a generated validator. */
export interface ValidationProblem {
  /** JSON Pointer of the bad value, "" for the value itself. */
  readonly instancePath: string;
  readonly message?: string;
}

/** A generated validator. */
export interface GeneratedValidator {
  (data: unknown): boolean;
  errors?: readonly ValidationProblem[] | null;
}

export const start: GeneratedValidator;
export const deliver: GeneratedValidator;
export const published: GeneratedValidator;
export const scheduled: GeneratedValidator;
export const scheduleCancelled: GeneratedValidator;
export const requestFailed: GeneratedValidator;
export const stop: GeneratedValidator;
export const statsRequest: GeneratedValidator;
export const jsonPayload: GeneratedValidator;
export const agentSend: GeneratedValidator;
