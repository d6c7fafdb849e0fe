// The `guildhall` command and its subcommands. Each subcommand lives in src/commands/ and adds
// itself here.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerAgentsCommand } from "./commands/agents.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerHostCommand } from "./commands/host.js";
import { registerRunCommand } from "./commands/run.js";
import { registerStatusCommand } from "./commands/status.js";

function version(): string {
  try {
    const raw = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    return (JSON.parse(raw) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * The `guildhall` program with all its commands; call `parseAsync(process.argv)` to run it.
 * Usage errors throw a `CommanderError` (exitOverride) so the caller can exit with status 2.
 */
export function createProgram(): Command {
  const program = new Command("guildhall")
    .description("Run guilds of long-lived agents across a fleet of agent hosts.")
    .version(version())
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall dev examples/hello/guild.yaml           run a guild on this machine and watch it
  $ guildhall host --redis-url redis://redis:6379 --agent-modules @acme/agents
  $ guildhall run guild.yaml --redis redis://redis:6379 --k8s guildhall/guildhall-host
  $ guildhall status --redis redis://redis:6379
  $ guildhall agents ls --redis redis://redis:6379 --json

Exit status: 0 ok, 1 failed, 2 bad usage, 3 bad guild file, 4 cluster unreachable,
5 not found, 130 interrupted by a second Ctrl-C.`,
    );
  registerDevCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerAgentsCommand(program);
  registerHostCommand(program);
  return program;
}
