// Files of the benchmark that run as they are (agent modules and child scripts), found from the
// compiled code in tools/bench/dist/bench/ as well as from the sources.
import { fileURLToPath } from "node:url";

const BENCH_DIR = new URL(
  import.meta.url.includes("/dist/bench/") ? "../../" : "./",
  import.meta.url,
);

/** The benchmark's agent modules: the hosts' allowlist. */
export const AGENTS_DIR = fileURLToPath(new URL("agents/", BENCH_DIR));

/** The `className` of an agent in the benchmark's agent modules. */
export function agentClass(file: string, exportName: string): string {
  return `${AGENTS_DIR}${file}#${exportName}`;
}

/** A script in tools/bench, e.g. a child process of a yardstick. */
export function benchFile(name: string): string {
  return fileURLToPath(new URL(name, BENCH_DIR));
}

/** The compiled sibling of a module of the benchmark (for child processes written in TypeScript). */
export function compiledFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** Whether the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}
