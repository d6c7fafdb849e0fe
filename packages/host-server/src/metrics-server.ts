// The Prometheus endpoint: GET /metrics on a port of its own, so scrapes never compete with the
// agent host API for its connection limits, and the API can be mTLS-only while metrics are not.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { GuildhallError, errorMessage } from "@guildhall/core";
import type { Registry } from "prom-client";

/** A listening metrics endpoint. */
export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `http://<host>:<port>/metrics`. */
export async function listenMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsListener> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics") {
      response
        .writeHead(404, { "content-type": "text/plain" })
        .end("not found: metrics are at /metrics\n");
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) =>
        response
          .writeHead(500, { "content-type": "text/plain" })
          .end(`collecting metrics failed: ${errorMessage(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new GuildhallError(
          "failed-precondition",
          error.code === "EADDRINUSE"
            ? `metrics port ${port} on ${host} is already in use; choose another (option metricsPort, GUILDHALL_METRICS_PORT; 0 picks a free one) or disable metrics`
            : `cannot listen for metrics on ${host}:${port}: ${error.message}`,
          { cause: error },
        ),
      );
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
