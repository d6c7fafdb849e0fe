// An agent's detail: its spec, its durable state (read-only) and its recent output.
import type { AgentDetail } from "../src/dashboard/wire.js";
import { el } from "./dom.js";
import { pretty } from "./format.js";

/** Renders `detail` into `into`. */
export function renderAgent(into: HTMLElement, detail: AgentDetail): void {
  into.replaceChildren(
    ...detail.problems.map((problem) => el("p", { className: "problem" }, problem)),
    el("h3", {}, "Spec"),
    el("pre", { className: "spec" }, pretty(detail.spec ?? null)),
    el("h3", {}, `Durable state (${detail.commits} commit${detail.commits === 1 ? "" : "s"})`),
    detail.state === undefined
      ? el("p", { className: "muted" }, "no state (the agent keeps none)")
      : el("pre", { className: "state" }, pretty(detail.state)),
    el("h3", {}, `Recent logs (${detail.logs.length} line${detail.logs.length === 1 ? "" : "s"})`),
    el(
      "pre",
      { className: "logs" },
      ...detail.logs.map((line) => el("span", { className: line.stream }, `${line.text}\n`)),
    ),
  );
}
