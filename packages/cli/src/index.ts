// The public API of @guildhall/cli: the program behind the `guildhall` executable, for tools that
// embed or extend it.
export { createProgram } from "./program.js";
export { ExitCode, CliError } from "./exit-codes.js";
export { readGuildFile } from "./guild-file.js";
export type { GuildFile } from "./guild-file.js";
export { registerDevCommand } from "./commands/dev.js";
export { registerRunCommand } from "./commands/run.js";
export { registerStatusCommand } from "./commands/status.js";
export { registerAgentsCommand } from "./commands/agents.js";
export { registerDashboardCommand } from "./commands/dashboard.js";
export { registerHostCommand, runHost } from "./commands/host.js";
export type { RunningHost } from "./commands/host.js";
export { resolveHostCommandConfig } from "./commands/host-config.js";
export type { HostBackend, HostCommandConfig, HostCommandFlags } from "./commands/host-config.js";
