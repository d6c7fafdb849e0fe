// Types of dist/runner-frame-validators.js, which the build generates from the zod schema of the
// `delivered` frame in ipc-protocol.ts (scripts/generate-validators.mjs).
import type { GeneratedValidator } from "./agent-process/runner-validators.js";

/** Whether `data` is a valid `delivered` frame (DeliveredEvent). */
export const delivered: GeneratedValidator;
