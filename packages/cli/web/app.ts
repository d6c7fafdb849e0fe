// The dashboard's page: one event stream from the server (overview every second, each message
// as it is seen), rendered into the fixed frame of the page with DOM calls only.
import type { Message } from "@guildhall/core";
import type { AgentDetail, DashboardEvents, Overview } from "../src/dashboard/wire.js";
import { renderAgent } from "./agent-view.js";
import { byId, el } from "./dom.js";
import { renderGuilds } from "./guilds-view.js";
import { renderHosts } from "./hosts-view.js";
import { SHOWN_ROWS, messageRow, renderMessages, threadOf } from "./messages-view.js";

/** Messages of a guild the page keeps. */
const KEPT_PER_GUILD = 1_000;
/** How often an open agent's detail is read again, in milliseconds. */
const DETAIL_REFRESH_MS = 3_000;

interface PageState {
  overview?: Overview;
  readonly messages: Map<string, Message[]>;
  guildId?: string | undefined;
  agent?: { readonly guildId: string; readonly agentId: string } | undefined;
  thread?: string | undefined;
  /** The body of the messages table shown, for live rows to go into. */
  liveRows?: HTMLTableSectionElement | undefined;
}

const state: PageState = { messages: new Map() };
let detailTimer: number | undefined;

// The server set a cookie from `?token=` on this load; keep the token out of the address bar.
if (new URLSearchParams(location.search).has("token")) {
  history.replaceState(null, "", location.pathname);
}

function renderOverview(): void {
  const overview = state.overview;
  if (overview === undefined) return;
  renderHosts(byId("hosts"), overview.hosts);
  const selection = { messagesOf: state.guildId, agent: state.agent };
  renderGuilds(byId("guilds"), overview.guilds, Date.now(), selection, {
    selectGuild,
    selectAgent,
  });
}

function renderMessageList(): void {
  const guildId = state.guildId;
  byId("messages-title").replaceChildren(
    guildId === undefined ? "Messages" : `Messages of guild ${guildId}`,
  );
  state.liveRows = renderMessages(
    byId("messages"),
    byId("thread-bar"),
    guildId === undefined ? [] : (state.messages.get(guildId) ?? []),
    state.thread,
    { selectThread },
  );
}

function selectGuild(guildId: string): void {
  state.guildId = guildId;
  state.thread = undefined;
  renderOverview();
  renderMessageList();
}

function selectThread(thread: string | undefined): void {
  state.thread = thread;
  renderMessageList();
}

async function loadAgent(guildId: string, agentId: string): Promise<void> {
  const into = byId("agent");
  try {
    const response = await fetch(
      `api/guilds/${encodeURIComponent(guildId)}/agents/${encodeURIComponent(agentId)}`,
    );
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      into.replaceChildren(
        el("p", { className: "problem" }, body.error ?? `the server answered ${response.status}`),
      );
      return;
    }
    const detail = (await response.json()) as AgentDetail;
    // The person may have chosen another agent while this one loaded.
    if (state.agent?.guildId === guildId && state.agent.agentId === agentId) {
      renderAgent(into, detail);
    }
  } catch (error) {
    into.replaceChildren(
      el("p", { className: "problem" }, `cannot load the agent: ${String(error)}`),
    );
  }
}

function selectAgent(guildId: string, agentId: string): void {
  state.agent = { guildId, agentId };
  if (state.guildId !== guildId) selectGuild(guildId);
  else renderOverview();
  const section = byId("agent-section");
  section.hidden = false;
  byId("agent-title").replaceChildren(
    `Agent ${agentId} of guild ${guildId} `,
    el("button", { onClick: () => closeAgent() }, "close"),
  );
  byId("agent").replaceChildren(el("p", { className: "muted" }, "loading…"));
  window.clearInterval(detailTimer);
  void loadAgent(guildId, agentId);
  detailTimer = window.setInterval(() => void loadAgent(guildId, agentId), DETAIL_REFRESH_MS);
}

function closeAgent(): void {
  state.agent = undefined;
  window.clearInterval(detailTimer);
  byId("agent-section").hidden = true;
  renderOverview();
}

function onMessage({ guildId, message }: DashboardEvents["message"]): void {
  const list = state.messages.get(guildId) ?? [];
  list.push(message);
  if (list.length > KEPT_PER_GUILD) list.splice(0, list.length - KEPT_PER_GUILD);
  state.messages.set(guildId, list);
  if (guildId !== state.guildId) return;
  if (state.thread !== undefined) {
    if (threadOf(message) === state.thread) renderMessageList();
    return;
  }
  const rows = state.liveRows;
  if (rows === undefined || rows.rows.length === 0) {
    renderMessageList();
    return;
  }
  rows.prepend(messageRow(message, { selectThread }));
  while (rows.rows.length > SHOWN_ROWS) rows.deleteRow(-1);
}

function onOverview(overview: Overview): void {
  state.overview = overview;
  const first = overview.guilds[0];
  if (state.guildId === undefined && first !== undefined) selectGuild(first.id);
  else renderOverview();
}

function connect(): void {
  const connection = byId("connection");
  const events = new EventSource("api/events");
  events.addEventListener("open", () => {
    connection.replaceChildren("live");
    connection.className = "state-ready";
  });
  events.addEventListener("error", () => {
    connection.replaceChildren("disconnected: reconnecting…");
    connection.className = "state-crashed";
    // After a reconnect the server sends what it kept again; start from that, not twice.
    state.messages.clear();
    renderMessageList();
  });
  events.addEventListener("overview", (event) => {
    onOverview(JSON.parse((event as MessageEvent<string>).data) as Overview);
  });
  events.addEventListener("message", (event) => {
    onMessage(JSON.parse((event as MessageEvent<string>).data) as DashboardEvents["message"]);
  });
  events.addEventListener("problem", (event) => {
    const { text } = JSON.parse((event as MessageEvent<string>).data) as DashboardEvents["problem"];
    connection.replaceChildren(text);
    connection.className = "problem";
  });
}

renderMessageList();
connect();
