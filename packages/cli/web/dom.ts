// Building the page's elements. Everything shown goes in as text nodes (Element.append with a
// string), never as HTML: names, topics and payloads are written by agents, and a `<script>` in
// them must show as the characters it is.

/** Properties {@link el} sets on an element. */
export interface ElementProps {
  readonly className?: string;
  readonly title?: string;
  readonly hidden?: boolean;
  readonly onClick?: () => void;
  /** `data-*` attributes, by name without the prefix; values are set as attribute text. */
  readonly data?: Readonly<Record<string, string>>;
}

/** A child of {@link el}: a node, or a string that becomes a text node. */
export type Child = Node | string | undefined | false;

/** `<tag>` with `props` and `children`, each string child a text node. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className !== undefined) element.className = props.className;
  if (props.title !== undefined) element.title = props.title;
  if (props.hidden === true) element.hidden = true;
  if (props.onClick !== undefined) element.addEventListener("click", props.onClick);
  for (const [name, value] of Object.entries(props.data ?? {})) element.dataset[name] = value;
  for (const child of children) {
    if (child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** A table with a header row and `rows`. */
export function table(
  head: readonly string[],
  rows: readonly HTMLTableRowElement[],
): HTMLTableElement {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...head.map((title) => el("th", {}, title)))),
    el("tbody", {}, ...rows),
  );
}

/** The element with id `id`, which the page's frame always has. */
export function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/** A CSS class for a state word: `state-ready`, `state-not-running`. */
export function stateClass(state: string): string {
  return `state-${state.replace(/[^a-z]+/gi, "-").toLowerCase()}`;
}
