// The `guildhall` command and its subcommands. Each subcommand lives in src/commands/ and adds
// itself here.
import { readFileSync } from "node:fs";
import { errorMessage } from "@guildhall/core";
import { Command } from "commander";
import { registerAgentsCommand } from "./commands/agents.js";
import { registerDashboardCommand } from "./commands/dashboard.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerHostCommand } from "./commands/host.js";
import { registerRunCommand } from "./commands/run.js";
import { registerStatusCommand } from "./commands/status.js";
import { exitCodeOf } from "./exit-codes.js";
import { startTracing } from "./tracing.js";

/** The commands that run guilds, and so trace them when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
const TRACED_COMMANDS = new Set(["host", "dev", "run"]);

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
  $ guildhall dashboard --redis redis://redis:6379    a live web page of the cluster

Exit status: 0 ok, 1 failed, 2 bad usage, 3 bad guild file, 4 cluster unreachable,
5 not found, 130 interrupted by a second Ctrl-C.`,
    );
  program.hook("preAction", async (_, command) => {
    const name = command.name();
    if (command.parent !== program || !TRACED_COMMANDS.has(name)) return;
    try {
      await startTracing(`guildhall-${name}`);
    } catch (error) {
      process.stderr.write(`guildhall ${name}: ${errorMessage(error)}\n`);
      process.exit(exitCodeOf(error));
    }
  });
  registerDevCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerAgentsCommand(program);
  registerDashboardCommand(program);
  registerHostCommand(program);
  return program;
}
