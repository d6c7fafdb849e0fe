// A small stand-in for the Kubernetes API server, for discovery tests: it serves EndpointSlices
// with the real list and watch wire format that @kubernetes/client-node speaks — list objects with
// a resourceVersion, watches as chunked newline-delimited JSON events, and a 410 Gone ERROR event
// when a watch asks for a resourceVersion older than the history it keeps. Tests change endpoints
// while a client watches, restart the server, force relists and count requests.
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";

/** The parts of a discovery.k8s.io/v1 EndpointSlice that tests set. */
export interface FakeEndpointSlice {
  name: string;
  namespace: string;
  /** Labels; the Service's slices carry `kubernetes.io/service-name`. */
  labels: Record<string, string>;
  addressType?: "IPv4" | "IPv6" | "FQDN";
  endpoints: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  }[];
  ports?: { name?: string; port: number; protocol?: string }[];
}

type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

interface StoredEvent {
  resourceVersion: number;
  type: WatchEventType;
  object: Record<string, unknown>;
}

interface OpenWatch {
  namespace: string;
  selector: Map<string, string>;
  response: http.ServerResponse;
}

/** One request the server answered, for tests that count API traffic. */
export interface FakeApiRequest {
  method: string;
  path: string;
  watch: boolean;
}

const SLICE_PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

function parseSelector(text: string | null): Map<string, string> {
  const selector = new Map<string, string>();
  for (const term of (text ?? "").split(",")) {
    if (term === "") continue;
    const [key, value] = term.split("=");
    if (key === undefined || value === undefined || term.includes("!")) {
      throw new Error(`unsupported label selector term "${term}": only key=value is served`);
    }
    selector.set(key, value);
  }
  return selector;
}

function matches(
  object: Record<string, unknown>,
  namespace: string,
  selector: Map<string, string>,
) {
  const metadata = object["metadata"] as { namespace: string; labels?: Record<string, string> };
  if (metadata.namespace !== namespace) return false;
  for (const [key, value] of selector) if (metadata.labels?.[key] !== value) return false;
  return true;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

/** The fake API server. Create with `startFakeKubeApiServer()`. */
export class FakeKubeApiServer {
  /** Every request answered, in order. */
  readonly requests: FakeApiRequest[] = [];
  readonly #objects = new Map<string, Record<string, unknown>>();
  #history: StoredEvent[] = [];
  /** Watches may resume from any resourceVersion at or after this one. */
  #oldestResumable = 0;
  #resourceVersion = 100;
  readonly #watches = new Set<OpenWatch>();
  readonly #sockets = new Set<Socket>();
  #server: http.Server | undefined;
  #port = 0;

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens on `port` (0 picks a free one; a restart passes the old port). */
  async listen(port = this.#port): Promise<void> {
    const server = http.createServer((req, res) => this.#handle(req, res));
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops abruptly, as a crashing API server would: open watches are cut. State is kept. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = once(server, "close");
    server.close();
    for (const socket of this.#sockets) socket.destroy();
    this.#watches.clear();
    await closed;
  }

  /** Writes a kubeconfig that points at this server and returns its path. */
  writeKubeconfig(dir: string): string {
    const file = path.join(dir, "kubeconfig.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${this.url}`,
        // The client refuses plain HTTP unless told TLS is not verified: the fake serves HTTP.
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: tester",
        "  user:",
        "    token: fake-token",
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: tester",
        "current-context: fake",
        "",
      ].join("\n"),
    );
    return file;
  }

  /** Creates or replaces an EndpointSlice and tells matching watches. */
  upsert(slice: FakeEndpointSlice): void {
    const key = `${slice.namespace}/${slice.name}`;
    const type: WatchEventType = this.#objects.has(key) ? "MODIFIED" : "ADDED";
    const object = this.#toObject(slice, ++this.#resourceVersion);
    this.#objects.set(key, object);
    this.#record(type, object);
  }

  /** Deletes an EndpointSlice and tells matching watches. */
  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const existing = this.#objects.get(key);
    if (existing === undefined) return;
    this.#objects.delete(key);
    const metadata = {
      ...(existing["metadata"] as object),
      resourceVersion: String(++this.#resourceVersion),
    };
    this.#record("DELETED", { ...existing, metadata });
  }

  /**
   * Forgets the watch history and ends every open watch, as etcd compaction does: a client that
   * resumes from any resourceVersion it has seen gets 410 Gone and must list again.
   */
  compact(): void {
    this.#history = [];
    this.#oldestResumable = this.#resourceVersion + 2;
    for (const watch of this.#watches) watch.response.end();
    this.#watches.clear();
  }

  /** Number of requests answered so far, optionally only lists or only watches. */
  count(kind?: "list" | "watch"): number {
    if (kind === undefined) return this.requests.length;
    return this.requests.filter((r) => r.watch === (kind === "watch")).length;
  }

  #toObject(slice: FakeEndpointSlice, resourceVersion: number): Record<string, unknown> {
    return {
      kind: "EndpointSlice",
      apiVersion: "discovery.k8s.io/v1",
      metadata: {
        name: slice.name,
        namespace: slice.namespace,
        labels: slice.labels,
        resourceVersion: String(resourceVersion),
        uid: `uid-${slice.namespace}-${slice.name}`,
      },
      addressType: slice.addressType ?? "IPv4",
      endpoints: slice.endpoints,
      ports: slice.ports ?? [],
    };
  }

  #record(type: WatchEventType, object: Record<string, unknown>): void {
    this.#history.push({ resourceVersion: this.#resourceVersion, type, object });
    for (const watch of this.#watches) {
      if (matches(object, watch.namespace, watch.selector)) {
        this.#send(watch.response, type, object);
      }
    }
  }

  #send(res: http.ServerResponse, type: string, object: Record<string, unknown>): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const watch = url.searchParams.get("watch") === "true";
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, watch });
    const match = SLICE_PATH.exec(url.pathname);
    if (req.method !== "GET" || match === null) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          status(
            404,
            "NotFound",
            `the fake API server does not serve ${req.method} ${url.pathname}`,
          ),
        ),
      );
      return;
    }
    const namespace = decodeURIComponent(match[1] ?? "");
    let selector: Map<string, string>;
    try {
      selector = parseSelector(url.searchParams.get("labelSelector"));
    } catch (error) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify(status(400, "BadRequest", (error as Error).message)));
      return;
    }
    if (watch) this.#serveWatch(res, namespace, selector, url.searchParams.get("resourceVersion"));
    else this.#serveList(res, namespace, selector);
  }

  #serveList(res: http.ServerResponse, namespace: string, selector: Map<string, string>): void {
    const items = [...this.#objects.values()].filter((o) => matches(o, namespace, selector));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        kind: "EndpointSliceList",
        apiVersion: "discovery.k8s.io/v1",
        metadata: { resourceVersion: String(this.#resourceVersion) },
        items,
      }),
    );
  }

  #serveWatch(
    res: http.ServerResponse,
    namespace: string,
    selector: Map<string, string>,
    from: string | null,
  ): void {
    // Like the real server: a watch always answers 200 and streams events; an expired
    // resourceVersion is reported as an ERROR event carrying a 410 Status, then the stream ends.
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const since =
      from === null || from === "" || from === "0" ? this.#resourceVersion : Number(from);
    if (!Number.isFinite(since) || since + 1 < this.#oldestResumable) {
      this.#send(
        res,
        "ERROR",
        status(410, "Expired", `too old resource version: ${from} (${this.#oldestResumable - 1})`),
      );
      res.end();
      return;
    }
    for (const event of this.#history) {
      if (event.resourceVersion > since && matches(event.object, namespace, selector)) {
        this.#send(res, event.type, event.object);
      }
    }
    const watch: OpenWatch = { namespace, selector, response: res };
    this.#watches.add(watch);
    res.once("close", () => this.#watches.delete(watch));
  }
}

/** Starts a fake API server on a free port. */
export async function startFakeKubeApiServer(): Promise<FakeKubeApiServer> {
  const server = new FakeKubeApiServer();
  await server.listen(0);
  return server;
}
