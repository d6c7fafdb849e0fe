// The hosts table: address, agents and capacity, lease left, draining.
import type { DashboardHost } from "../src/dashboard/wire.js";
import { el, stateClass, table } from "./dom.js";
import { formatDuration } from "./format.js";

/** Renders `hosts` into `into`. */
export function renderHosts(into: HTMLElement, hosts: readonly DashboardHost[]): void {
  if (hosts.length === 0) {
    into.replaceChildren(el("p", { className: "muted" }, "no agent host is registered"));
    return;
  }
  const rows = hosts.map((host) => {
    const status = !host.reachable ? "unreachable" : host.draining ? "draining" : "serving";
    return el(
      "tr",
      { data: { host: host.address } },
      el("td", {}, host.address),
      el("td", { className: "num" }, `${host.load}/${host.maxAgents}`),
      el("td", { className: "num" }, formatDuration(host.leaseRemainingMs)),
      el("td", {}, host.draining ? "yes" : "no"),
      el("td", { className: stateClass(status) }, status),
    );
  });
  into.replaceChildren(table(["address", "agents", "lease left", "draining", "status"], rows));
}
