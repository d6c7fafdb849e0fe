// Where the probe agents are, as agent processes load them: the built probe-agents.js next to this
// file (or under dist/ when this file runs from its TypeScript source).
import { fileURLToPath } from "node:url";

/** The names of the probe agents exported by {@link probeAgentsModule}. */
export type ProbeAgentName =
  | "InitiatorAgent"
  | "ResponderAgent"
  | "EchoAgent"
  | "FailingStartAgent"
  | "NotAnAgent"
  | "CounterAgent";

/**
 * The absolute path of the module exporting the probe agents. Engines that load agents from an
 * allowlist must allow it to pass the contract suite.
 */
export const probeAgentsModule: string = fileURLToPath(
  new URL(
    import.meta.url.endsWith(".ts") ? "../dist/probe-agents.js" : "./probe-agents.js",
    import.meta.url,
  ),
);

/** The className of a probe agent, e.g. `probeClassName("EchoAgent")`. */
export function probeClassName(name: ProbeAgentName): string {
  return `${probeAgentsModule}#${name}`;
}
