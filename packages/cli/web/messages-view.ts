// A guild's live messages: time, topic, sender, payload (collapsible JSON) and thread, newest
// first; or one thread, oldest first, when a thread is chosen.
import type { Message } from "@guildhall/core";
import { el, table } from "./dom.js";
import { formatTime, oneLine, pretty } from "./format.js";

/** Messages listed at most; older ones stay in memory for threads. */
export const SHOWN_ROWS = 200;

/** What the messages view reports back to the page. */
export interface MessagesViewEvents {
  selectThread(threadId: string | undefined): void;
}

/** The thread a message belongs to: its `threadId`, else its own id (a thread's first message). */
export function threadOf(message: Message): string {
  return message.threadId ?? message.id;
}

/** One message as a table row. */
export function messageRow(message: Message, events: MessagesViewEvents): HTMLTableRowElement {
  const sender =
    message.sender.name === undefined
      ? message.sender.id
      : `${message.sender.id} (${message.sender.name})`;
  const thread = threadOf(message);
  return el(
    "tr",
    { className: "message", data: { id: message.id } },
    el("td", { title: new Date(message.timestamp).toISOString() }, formatTime(message.timestamp)),
    el("td", {}, message.topic),
    el("td", {}, sender),
    el(
      "td",
      { className: "payload" },
      el(
        "details",
        {},
        el("summary", {}, oneLine(message.payload)),
        el("pre", {}, pretty(message.payload)),
      ),
    ),
    el(
      "td",
      {},
      el(
        "button",
        {
          className: "link id",
          title: "show this thread's messages",
          onClick: () => events.selectThread(thread),
        },
        thread,
      ),
      message.inResponseTo !== undefined &&
        el(
          "div",
          { className: "muted id", title: "in response to this message" },
          `↳ ${message.inResponseTo}`,
        ),
    ),
  );
}

/** Renders the messages of a guild into `into` (and the thread bar into `bar`). */
export function renderMessages(
  into: HTMLElement,
  bar: HTMLElement,
  messages: readonly Message[],
  thread: string | undefined,
  events: MessagesViewEvents,
): HTMLTableSectionElement {
  const shown =
    thread === undefined
      ? messages.slice(-SHOWN_ROWS).reverse()
      : messages.filter((m) => threadOf(m) === thread || m.id === thread);
  bar.hidden = thread === undefined;
  if (thread !== undefined) {
    bar.replaceChildren(
      `thread ${thread}: ${shown.length} message${shown.length === 1 ? "" : "s"}, oldest first `,
      el("button", { onClick: () => events.selectThread(undefined) }, "show all messages"),
    );
  }
  const rendered = table(
    ["time", "topic", "sender", "payload", "thread"],
    shown.map((m) => messageRow(m, events)),
  );
  into.replaceChildren(
    shown.length === 0 ? el("p", { className: "muted" }, "no message yet") : "",
    rendered,
  );
  const body = rendered.tBodies[0];
  if (body === undefined) throw new Error("a rendered table has a body");
  return body;
}
