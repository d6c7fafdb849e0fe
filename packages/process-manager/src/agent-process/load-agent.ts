// Loading the one agent a runner is given: importing its module from the allowlist, checking and
// constructing its class, and giving it its state before onStart.
import {
  errorMessage,
  GuildhallError,
  isAgentClass,
  parseClassName,
  resolveAgentModule,
  type Agent,
  type AgentInit,
} from "@guildhall/core";
import type { StartCommand } from "../ipc-protocol.js";
import { CommittedState } from "./durable-state.js";

function describeValue(value: unknown): string {
  if (typeof value === "function") return "a class or function that does not extend Agent";
  if (value === null) return "null";
  return `a ${typeof value}`;
}

/**
 * Imports the module `command` names (after checking it against the allowlist), and constructs its
 * Agent class.
 *
 * @throws GuildhallError `permission-denied` (module not allowed), `not-found` (module missing),
 *   `invalid-argument` (no such export, not an Agent, no onMessage), `internal` (the module or the
 *   constructor threw)
 */
export async function loadAgent(command: StartCommand): Promise<Agent> {
  const spec = command.agent;
  const { module, exportName } = parseClassName(spec.className);
  const target = resolveAgentModule(module, command.agentModules);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
      throw new GuildhallError(
        "not-found",
        `agent module "${module}" could not be loaded: ${errorMessage(error)}; install it where the host resolves packages, or fix className`,
      );
    }
    throw new GuildhallError(
      "internal",
      `agent module "${module}" threw while loading: ${errorMessage(error)}; fix the module (it must import cleanly)`,
    );
  }
  const exported = namespace[exportName];
  if (exported === undefined) {
    const names = Object.keys(namespace);
    throw new GuildhallError(
      "invalid-argument",
      `agent module "${module}" has no export "${exportName}" (it exports: ${names.length > 0 ? names.join(", ") : "nothing"}); fix the name after "#" in className`,
    );
  }
  if (!isAgentClass(exported)) {
    throw new GuildhallError(
      "invalid-argument",
      `export "${exportName}" of "${module}" is not an Agent subclass (it is ${describeValue(exported)}); declare it as \`class ${exportName} extends Agent\` with Agent from @guildhall/core`,
    );
  }
  const init: AgentInit = {
    id: spec.id,
    name: spec.name,
    guildId: command.guild.id,
    properties: spec.properties ?? {},
  };
  let instance: Agent;
  try {
    instance = new exported(init as AgentInit<never>);
  } catch (error) {
    throw new GuildhallError(
      "internal",
      `constructing agent ${exportName} threw: ${errorMessage(error)}; fix its constructor or the spec's properties`,
    );
  }
  if (typeof instance.onMessage !== "function") {
    throw new GuildhallError(
      "invalid-argument",
      `agent class ${exportName} of "${module}" does not implement onMessage(ctx); add it`,
    );
  }
  return instance;
}

/**
 * Gives the agent its state before onStart: the stored one, else `initialState()`, else what its
 * constructor left (a field initialiser), else `null`. Returns what counts as committed: the stored
 * state; nothing after `initialState()`, whose result must be stored so that it never runs again;
 * `null` otherwise, so that an agent without state costs no commit.
 */
export function loadState(instance: Agent, command: StartCommand): CommittedState {
  const limit = command.maxStateBytes;
  if (command.state !== undefined) {
    instance.state = command.state.value;
    return new CommittedState(command.agent.id, limit, JSON.stringify(command.state.value));
  }
  if (typeof instance.initialState === "function") {
    try {
      instance.state = instance.initialState();
    } catch (error) {
      throw new GuildhallError(
        "internal",
        `agent ${command.agent.id} (${command.agent.className}) initialState threw: ${errorMessage(error)}`,
      );
    }
    return new CommittedState(command.agent.id, limit, undefined);
  }
  instance.state ??= null;
  return new CommittedState(command.agent.id, limit, "null");
}
