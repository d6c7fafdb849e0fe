// The dashboard's HTTP server (node:http): the page, its script and styles, a few JSON endpoints
// and one server-sent event stream. Every response forbids scripts but the page's own (CSP), so
// even a rendering bug cannot run what an agent wrote.
import { readFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ID_PATTERN, errorMessage } from "@guildhall/core";
import { CliError, ExitCode } from "../exit-codes.js";
import { checkAccess, tokenCookie } from "./access.js";
import type { DashboardSource } from "./data-source.js";
import type { DashboardListenOptions } from "./listen-options.js";
import { PAGE_CSS, PAGE_HTML } from "./page.js";
import type { DashboardEvents, Overview } from "./wire.js";

/** Options of {@link startDashboardServer}. */
export interface DashboardServerOptions {
  readonly source: DashboardSource;
  readonly listen: DashboardListenOptions;
  /** How often hosts and agents are read again for open pages, in milliseconds. Default 1000. */
  readonly pollMs?: number;
}

/** A listening dashboard. */
export interface DashboardServer {
  /** The page's address, e.g. `http://127.0.0.1:8787/` (without the token). */
  readonly url: string;
  /** Stops listening and ends every open page's stream. */
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
} as const;

// The bundled page script sits next to this file in dist/ (built from web/app.ts).
function readScript(): string {
  try {
    return readFileSync(new URL("./app.js", import.meta.url), "utf8");
  } catch (error) {
    throw new CliError(
      `the dashboard's page script is missing (${errorMessage(error)}): build the package (npx nx run @guildhall/cli:build)`,
      ExitCode.failure,
    );
  }
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    ...extra,
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(value));
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

function listenError(error: NodeJS.ErrnoException, listen: DashboardListenOptions): CliError {
  if (error.code === "EADDRINUSE") {
    return new CliError(
      `the dashboard's port ${listen.port} on ${listen.host} is in use: pick another with --port (0 picks a free one)`,
      ExitCode.failure,
    );
  }
  if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") {
    return new CliError(
      `the dashboard cannot listen on ${listen.host}: it is not an address of this machine (${error.code}); use 127.0.0.1, ::1 or 0.0.0.0`,
      ExitCode.usage,
    );
  }
  return new CliError(
    `the dashboard cannot listen on ${listen.host}:${listen.port}: ${error.message}`,
    ExitCode.failure,
  );
}

/** Starts the dashboard's server; it reads the cluster through `source` and writes nothing. */
export async function startDashboardServer(
  options: DashboardServerOptions,
): Promise<DashboardServer> {
  const { source, listen } = options;
  const pollMs = options.pollMs ?? 1_000;
  const script = readScript();
  const streams = new Set<ServerResponse>();
  let latest: Overview | undefined;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;

  const emit = <K extends keyof DashboardEvents>(
    to: Iterable<ServerResponse>,
    event: K,
    data: DashboardEvents[K],
  ) => {
    // JSON.stringify writes no raw newline, so each event is one `data:` line.
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const response of to) response.write(frame);
  };

  const poll = async () => {
    try {
      latest = await source.overview();
      emit(streams, "overview", latest);
    } catch (error) {
      emit(streams, "problem", { text: `cannot read the cluster: ${errorMessage(error)}` });
    }
    if (!closed) poller = setTimeout(() => void poll(), pollMs);
  };
  const stopFeed = source.feed.onMessage((message) => emit(streams, "message", message));

  const openStream = (response: ServerResponse) => {
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    streams.add(response);
    response.on("close", () => streams.delete(response));
    // A page that opens late sees the messages kept so far, then the live ones.
    if (latest !== undefined) emit([response], "overview", latest);
    for (const guildId of source.feed.guildIds()) {
      for (const message of source.feed.recent(guildId)) emit([response], "message", message);
    }
  };

  const route = async (response: ServerResponse, url: URL) => {
    const path = url.pathname;
    if (path === "/" || path === "/index.html") {
      send(response, 200, "text/html; charset=utf-8", PAGE_HTML);
    } else if (path === "/app.js") {
      send(response, 200, "text/javascript; charset=utf-8", script);
    } else if (path === "/app.css") {
      send(response, 200, "text/css; charset=utf-8", PAGE_CSS);
    } else if (path === "/favicon.ico") {
      // No icon: an empty answer keeps browsers from logging a 404 on every load.
      response.writeHead(204, SECURITY_HEADERS).end();
    } else if (path === "/api/events") {
      openStream(response);
    } else if (path === "/api/overview") {
      sendJson(response, 200, latest ?? (await source.overview()));
    } else {
      const parts = path.split("/").slice(1).map(decodeURIComponent);
      const [api, guilds, guildId, what, agentId, ...rest] = parts;
      const ids = [guildId, agentId].filter((id) => id !== undefined);
      if (api !== "api" || guilds !== "guilds" || !ids.every((id) => ID_PATTERN.test(id))) {
        sendJson(response, 404, { error: `no such page: ${path}` });
      } else if (what === "messages" && agentId === undefined && guildId !== undefined) {
        sendJson(response, 200, source.feed.recent(guildId));
      } else if (
        what === "agents" &&
        guildId !== undefined &&
        agentId !== undefined &&
        rest.length === 0
      ) {
        const detail = await source.agentDetail(guildId, agentId);
        if (detail === undefined) {
          sendJson(response, 404, { error: `guild ${guildId} has no agent ${agentId}` });
        } else {
          sendJson(response, 200, detail);
        }
      } else {
        sendJson(response, 404, { error: `no such page: ${path}` });
      }
    }
  };

  const server: Server = createServer((request, response) => {
    let url: URL;
    try {
      url = new URL(request.url ?? "/", "http://dashboard.invalid");
      decodeURIComponent(url.pathname);
    } catch {
      sendJson(response, 400, { error: "malformed request path" });
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "text/plain; charset=utf-8", "the dashboard is read-only\n", {
        allow: "GET, HEAD",
      });
      return;
    }
    const access = checkAccess(request, url, listen.token);
    if (!access.allowed) {
      send(response, access.status, "text/plain; charset=utf-8", `${access.reason}\n`, {
        ...(access.status === 401 && { "www-authenticate": 'Bearer realm="guildhall dashboard"' }),
      });
      return;
    }
    if (access.setCookie && listen.token !== undefined) {
      response.setHeader("set-cookie", tokenCookie(listen.token));
    }
    route(response, url).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 502, { error: errorMessage(error) });
      else response.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(error, listen)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await poll();

  return {
    url: formatUrl(listen.host, port),
    async close() {
      closed = true;
      clearTimeout(poller);
      stopFeed();
      for (const response of streams) response.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
