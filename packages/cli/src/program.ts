// The `guildhall` command and its subcommands. Each subcommand lives in src/commands/ and adds
// itself here, so later ones (dev, run, status, agents) slot in beside `host`.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerHostCommand } from "./commands/host.js";

function version(): string {
  try {
    const raw = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    return (JSON.parse(raw) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** The `guildhall` program with all its commands; call `parseAsync(process.argv)` to run it. */
export function createProgram(): Command {
  const program = new Command("guildhall")
    .description("Run guilds of long-lived agents across a fleet of agent hosts.")
    .version(version())
    .showHelpAfterError();
  registerHostCommand(program);
  return program;
}
