// The guilds and their agents: host, state, restarts, pid, memory, last message. Choosing a guild
// shows its messages; choosing an agent shows its detail.
import type { DashboardGuild } from "../src/dashboard/wire.js";
import { el, stateClass, table } from "./dom.js";
import { formatAgo, formatMemory } from "./format.js";

/** What the guilds view reports back to the page. */
export interface GuildsViewEvents {
  selectGuild(guildId: string): void;
  selectAgent(guildId: string, agentId: string): void;
}

/** What is chosen now, to mark it. */
export interface GuildsSelection {
  /** The guild whose messages are shown. */
  readonly messagesOf?: string | undefined;
  /** The agent whose detail is shown. */
  readonly agent?: { readonly guildId: string; readonly agentId: string } | undefined;
}

/** Renders `guilds` into `into`. */
export function renderGuilds(
  into: HTMLElement,
  guilds: readonly DashboardGuild[],
  now: number,
  selection: GuildsSelection,
  events: GuildsViewEvents,
): void {
  if (guilds.length === 0) {
    into.replaceChildren(el("p", { className: "muted" }, "no guild is running"));
    return;
  }
  into.replaceChildren(
    ...guilds.map((guild) => {
      const rows = guild.agents.map((agent) =>
        el(
          "tr",
          {
            className:
              guild.id === selection.agent?.guildId && agent.id === selection.agent.agentId
                ? "selectable selected"
                : "selectable",
            data: { agent: agent.id },
            title: agent.lastError ?? "show this agent's spec, state and logs",
            onClick: () => events.selectAgent(guild.id, agent.id),
          },
          el("td", {}, agent.id),
          el("td", {}, agent.name),
          el("td", {}, agent.host ?? "-"),
          el("td", { className: stateClass(agent.state) }, agent.state),
          el("td", { className: "num" }, String(agent.restarts)),
          el("td", { className: "num" }, agent.pid > 0 ? String(agent.pid) : "-"),
          el("td", { className: "num" }, formatMemory(agent.memoryBytes)),
          el("td", {}, formatAgo(agent.lastMessageAt, now)),
        ),
      );
      return el(
        "div",
        { className: "guild", data: { guild: guild.id } },
        el(
          "h3",
          {},
          el(
            "button",
            {
              className: "link",
              title: "show this guild's messages",
              onClick: () => events.selectGuild(guild.id),
            },
            guild.id,
          ),
          " ",
          el("span", { className: "muted" }, guild.name),
          guild.id === selection.messagesOf &&
            el("span", { className: "muted" }, " (messages below)"),
        ),
        table(
          ["agent", "name", "host", "state", "restarts", "pid", "memory", "last message"],
          rows,
        ),
      );
    }),
  );
}
