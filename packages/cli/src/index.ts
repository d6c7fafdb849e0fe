// The public API of @guildhall/cli: the program behind the `guildhall` executable, for tools that
// embed or extend it.
export { createProgram } from "./program.js";
export { registerHostCommand, runHost } from "./commands/host.js";
export type { RunningHost } from "./commands/host.js";
export { resolveHostCommandConfig } from "./commands/host-config.js";
export type { HostBackend, HostCommandConfig, HostCommandFlags } from "./commands/host-config.js";
