#!/usr/bin/env node
// The `guildhall` executable.
import { CommanderError } from "commander";
import { ExitCode } from "./exit-codes.js";
import { createProgram } from "./program.js";

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  // Commander has printed the problem (or the help, or the version) already.
  if (!(error instanceof CommanderError)) throw error;
  process.exit(error.exitCode === 0 ? ExitCode.ok : ExitCode.usage);
}
