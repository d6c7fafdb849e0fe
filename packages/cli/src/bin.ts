#!/usr/bin/env node
// The `guildhall` executable.
import { createProgram } from "./program.js";

await createProgram().parseAsync(process.argv);
