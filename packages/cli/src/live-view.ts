// What `guildhall dev` shows while a guild runs: its hosts with their agents and states, and the
// messages flowing. On a terminal the view is redrawn in place (log-update); otherwise every
// message and every change of state is one plain line, in order, for logs and tests.
import logUpdate from "log-update";
import pc from "picocolors";
import { colorState, renderTable, truncate } from "./output.js";

/** An agent as the view shows it. */
export interface ViewAgent {
  readonly id: string;
  readonly state: string;
  /** The agent's process id; 0 when it has none. */
  readonly pid: number;
}

/** A host as the view shows it. */
export interface ViewHost {
  readonly address: string;
  /** False when the host did not answer; its agents are then unknown. */
  readonly reachable: boolean;
  readonly agents: readonly ViewAgent[];
}

/** A message seen on the bus. */
export interface ViewMessage {
  readonly sender: string;
  readonly topic: string;
  readonly payload: unknown;
}

/** Receives what happens in a running guild and shows it. */
export interface LiveView {
  /** Shows the hosts and their agents' states as they are now. */
  hosts(hosts: readonly ViewHost[]): void;
  /** Shows one message. */
  message(message: ViewMessage): void;
  /** A line outside the view (the guild runs, stopping, …). */
  note(text: string): void;
  /** Leaves the last frame on screen and stops redrawing. */
  close(): void;
}

/** How a message reads on one line: `sender → topic: payload`, the payload cut to fit. */
export function formatMessage(message: ViewMessage, width: number): string {
  const head = `${message.sender} → ${message.topic}: `;
  return (
    head + truncate(JSON.stringify(message.payload) ?? "null", Math.max(20, width - head.length))
  );
}

/** One line per event; states are printed when they change. `json` prints JSON lines instead. */
export function createPlainView(json: boolean): LiveView {
  const states = new Map<string, string>();
  const print = (line: string) => process.stdout.write(`${line}\n`);
  return {
    hosts(hosts) {
      for (const host of hosts) {
        const reachable = host.reachable ? "serving" : "unreachable";
        if (
          states.get(host.address) !== reachable &&
          (states.has(host.address) || !host.reachable)
        ) {
          if (json) print(JSON.stringify({ type: "host", host: host.address, state: reachable }));
          else print(`host ${host.address}: ${reachable}`);
        }
        states.set(host.address, reachable);
        for (const agent of host.agents) {
          const key = `${host.address} ${agent.id}`;
          const state = `${agent.state} ${agent.pid}`;
          if (states.get(key) === state) continue;
          states.set(key, state);
          if (json) print(JSON.stringify({ type: "agent", host: host.address, ...agent }));
          else print(`agent ${agent.id} on ${host.address}: ${agent.state} (pid ${agent.pid})`);
        }
      }
    },
    message(message) {
      if (json) print(JSON.stringify({ type: "message", ...message }));
      else print(formatMessage(message, 160));
    },
    note(text) {
      if (json) print(JSON.stringify({ type: "note", text }));
      else print(text);
    },
    close: () => undefined,
  };
}

/** The redrawn view for a terminal: a table of hosts and agents above the latest messages. */
export function createTerminalView(title: string): LiveView {
  let hosts: readonly ViewHost[] = [];
  const messages: string[] = [];
  const notes: string[] = [];
  let scheduled: NodeJS.Timeout | undefined;
  const draw = () => {
    scheduled = undefined;
    const width = process.stdout.columns || 100;
    const rows = hosts.map((host) => [
      host.address,
      String(host.agents.length),
      host.reachable
        ? host.agents.map((a) => `${a.id} ${colorState(a.state)}`).join("\n") || pc.dim("none")
        : colorState("unreachable"),
    ]);
    // Room for the table and the header; the rest of the screen shows the latest messages.
    const room = Math.max(5, (process.stdout.rows || 30) - rows.length * 2 - hosts.length - 10);
    const shown = messages.slice(-room);
    logUpdate(
      [
        pc.bold(title),
        renderTable(["host", "agents", "agent states"], rows),
        pc.bold(`messages (${messages.length})`),
        ...shown.map((line) => truncate(line, width)),
        ...notes.map((n) => pc.dim(n)),
      ].join("\n"),
    );
  };
  const redraw = () => {
    // Messages can arrive by the thousand; ten frames a second is enough to read them.
    scheduled ??= setTimeout(draw, 100);
  };
  return {
    hosts(next) {
      hosts = next;
      redraw();
    },
    message(message) {
      messages.push(formatMessage(message, process.stdout.columns || 100));
      if (messages.length > 1_000) messages.splice(0, messages.length - 1_000);
      redraw();
    },
    note(text) {
      notes.push(text);
      redraw();
    },
    close() {
      if (scheduled !== undefined) clearTimeout(scheduled);
      draw();
      logUpdate.done();
    },
  };
}
