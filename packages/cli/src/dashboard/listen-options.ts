// Where the dashboard listens and who may read it, checked before anything starts: a bad port or
// host, or a bind beyond loopback without a token, is refused with nothing left listening.
import { isIP } from "node:net";
import { CliError, ExitCode } from "../exit-codes.js";

/** The variable that holds the dashboard's token. It has no flag, so it never shows in `ps`. */
export const DASHBOARD_TOKEN_VARIABLE = "GUILDHALL_DASHBOARD_TOKEN";

/** The dashboard's port unless told otherwise. */
export const DEFAULT_DASHBOARD_PORT = 8787;

/** The dashboard's address unless told otherwise: this machine only. */
export const DEFAULT_DASHBOARD_HOST = "127.0.0.1";

/** Where the dashboard listens and the token it requires, once checked. */
export interface DashboardListenOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host: string;
  /** Whether only this machine can connect: then no token is needed. */
  readonly loopback: boolean;
  /** Required with every request when set; always set unless `loopback`. */
  readonly token?: string;
}

// A host name as DNS allows it: labels of letters, digits and hyphens.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Whether `host` names this machine's loopback interface and nothing else. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** `--port` as a number from 0 (any free port) to 65535. */
export function parseDashboardPort(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65_535) {
    throw new CliError(
      `${flag} must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(text)}`,
      ExitCode.usage,
    );
  }
  return port;
}

/**
 * Checks the port, the host and the token. Binding beyond loopback exposes every guild's messages
 * and agents' state to the network, so it needs a token; on loopback a token is optional.
 *
 * @throws CliError usage for a bad port or host, or a bind beyond loopback without a token
 */
export function resolveDashboardListen(
  flags: { readonly port?: string; readonly host?: string },
  env: Readonly<Record<string, string | undefined>> = process.env,
  portFlag = "--port",
): DashboardListenOptions {
  const port =
    flags.port === undefined
      ? DEFAULT_DASHBOARD_PORT
      : parseDashboardPort(flags.port.trim(), portFlag);
  const raw = (flags.host ?? DEFAULT_DASHBOARD_HOST).trim();
  // `[::1]` as in a URL means `::1`.
  const host = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  if (isIP(host) === 0 && !HOST_NAME.test(host)) {
    throw new CliError(
      `--host must be an IP address or a host name of this machine (127.0.0.1, ::1, 0.0.0.0, localhost), got ${JSON.stringify(raw)}`,
      ExitCode.usage,
    );
  }
  const loopback = isLoopbackHost(host);
  const token = env[DASHBOARD_TOKEN_VARIABLE]?.trim();
  if (token === undefined || token === "") {
    if (!loopback) {
      throw new CliError(
        `--host ${host} would show every guild to the network: set ${DASHBOARD_TOKEN_VARIABLE} to a secret the page must present (or bind to 127.0.0.1)`,
        ExitCode.usage,
      );
    }
    return { port, host, loopback };
  }
  if (token.length < 16) {
    throw new CliError(
      `${DASHBOARD_TOKEN_VARIABLE} is too short to keep anyone out: use at least 16 characters, e.g. $(openssl rand -hex 24)`,
      ExitCode.usage,
    );
  }
  return { port, host, loopback, token };
}
