// Validation on the runner's end of the IPC channel, with the validators the build compiles from
// the zod schemas of ipc-protocol.ts. The runner uses these instead of the schemas themselves
// because loading zod would cost every agent process more than starting Node.js does.
import type { AgentSendMessage, HostToRunner } from "../ipc-protocol.js";
import * as validators from "./runner-validators.js";
import type { GeneratedValidator } from "./runner-validators.js";

const BY_TYPE: Readonly<Record<HostToRunner["type"], GeneratedValidator>> = {
  start: validators.start,
  deliver: validators.deliver,
  published: validators.published,
  scheduled: validators.scheduled,
  "schedule-cancelled": validators.scheduleCancelled,
  "request-failed": validators.requestFailed,
  stop: validators.stop,
  "stats-request": validators.statsRequest,
};

function describeProblem(validate: GeneratedValidator): string {
  const [problem] = validate.errors ?? [];
  if (problem === undefined) return "invalid";
  const where = problem.instancePath === "" ? "(message)" : problem.instancePath.slice(1);
  return `${where.replaceAll("/", ".")}: ${problem.message ?? "invalid"}`;
}

/** A message from the host, checked: the message, or what is wrong with it. */
export type ParsedHostMessage =
  | { readonly ok: true; readonly message: HostToRunner }
  | { readonly ok: false; readonly problem: string };

/** Checks that `raw` is one of the messages a host sends to a runner. */
export function parseHostMessage(raw: unknown): ParsedHostMessage {
  const type =
    typeof raw === "object" && raw !== null ? (raw as { type?: unknown }).type : undefined;
  const validate =
    typeof type === "string" && Object.hasOwn(BY_TYPE, type)
      ? BY_TYPE[type as HostToRunner["type"]]
      : undefined;
  if (validate === undefined) {
    return { ok: false, problem: `type: must be one of ${Object.keys(BY_TYPE).join(", ")}` };
  }
  return validate(raw)
    ? { ok: true, message: raw as HostToRunner }
    : { ok: false, problem: describeProblem(validate) };
}

/** What makes `payload` not JSON, or `undefined` when it is JSON. */
export function jsonPayloadProblem(payload: unknown): string | undefined {
  return validators.jsonPayload(payload) ? undefined : describeProblem(validators.jsonPayload);
}

/** What makes a handler's send not one the host takes (see `AgentSend`), or `undefined`. */
export function agentSendProblem(send: AgentSendMessage): string | undefined {
  return validators.agentSend(send) ? undefined : describeProblem(validators.agentSend);
}
