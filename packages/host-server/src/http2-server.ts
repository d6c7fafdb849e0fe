// The HTTP/2 listener of the agent host API: cleartext (h2c) or TLS, with mutual TLS when a CA is
// given. It tracks its sessions so close() can let streams finish for a grace period and then cut
// what is left, instead of waiting for clients that keep their connections open.
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { GuildhallError } from "@guildhall/core";
import type { AgentHostTlsOptions } from "./host-options.js";

type Handler = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void;

/** A listening server. */
export interface Http2Listener {
  /** The bound port. */
  readonly port: number;
  /** Stops accepting, lets open sessions finish for `graceMs`, then destroys them. */
  close(graceMs: number): Promise<void>;
}

/** Options of {@link listenHttp2}. */
export interface Http2ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: AgentHostTlsOptions | undefined;
}

/** Whether a TLS server asks for and verifies client certificates. */
function requiresClientCert(tls: AgentHostTlsOptions): boolean {
  return tls.requireClientCert ?? tls.ca !== undefined;
}

/**
 * Starts an HTTP/2 server for `handler` and resolves once it listens.
 *
 * @throws GuildhallError `failed-precondition` when the port is taken or the address cannot be bound
 */
export async function listenHttp2(
  handler: Handler,
  options: Http2ListenOptions,
): Promise<Http2Listener> {
  const { tls } = options;
  const server =
    tls === undefined
      ? http2.createServer({}, handler)
      : http2.createSecureServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca !== undefined && { ca: tls.ca }),
            requestCert: requiresClientCert(tls),
            rejectUnauthorized: requiresClientCert(tls),
            // gRPC-Web and Connect clients may speak HTTP/1.1 over TLS.
            allowHTTP1: true,
          },
          handler,
        );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A client that vanishes mid-stream must not crash the host.
    session.on("error", () => undefined);
  });
  // Handshake failures (a client without an accepted certificate) concern that client only.
  server.on("tlsClientError", () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new GuildhallError(
          "failed-precondition",
          error.code === "EADDRINUSE"
            ? `port ${options.port} on ${options.host} is already in use; stop what uses it, or choose another port (option port, GUILDHALL_PORT; 0 picks a free one)`
            : `cannot listen on ${options.host}:${options.port}: ${error.message}; check the host and port options`,
          { cause: error },
        ),
      );
    };
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs: number) {
      closing ??= (async () => {
        const closed = once(server, "close");
        server.close();
        for (const session of sessions) session.close();
        const timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
        }, graceMs);
        try {
          await closed;
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}
