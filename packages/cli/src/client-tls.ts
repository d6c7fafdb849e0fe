// TLS towards the agent hosts, for the commands that call them (`run`, `agents`): the flags, the
// variables behind them, and the engine's ClusterTlsOptions they become. The variables are not
// the host's GUILDHALL_TLS_* (its own certificate, and the CA of its clients): a shell inside a
// host's container has those set, and they mean something else for a client.
import { errorMessage } from "@guildhall/core";
import { readFileSync } from "node:fs";
import type { ClusterTlsOptions } from "@guildhall/engine";
import type { Command } from "commander";
import { CliError, ExitCode } from "./exit-codes.js";
import { pick, type Env } from "./settings.js";

/** The TLS flags of the cluster commands, as commander parses them. */
export interface ClientTlsFlags {
  readonly tls?: boolean;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsServerName?: string;
}

/** Adds `--tls`, `--tls-ca`, `--tls-cert`, `--tls-key` and `--tls-server-name` to `command`. */
export function addClientTlsOptions(command: Command): Command {
  return command
    .option("--tls", "dial the hosts over TLS, trusting Node's CAs [GUILDHALL_CLIENT_TLS=1]")
    .option(
      "--tls-ca <file>",
      "CA (PEM) of the hosts' certificates; implies --tls [GUILDHALL_CLIENT_TLS_CA]",
    )
    .option(
      "--tls-cert <file>",
      "client certificate (PEM) for hosts that require mutual TLS [GUILDHALL_CLIENT_TLS_CERT]",
    )
    .option("--tls-key <file>", "its private key (PEM) [GUILDHALL_CLIENT_TLS_KEY]")
    .option(
      "--tls-server-name <name>",
      "name the hosts' certificates carry, when not their addresses [GUILDHALL_CLIENT_TLS_SERVER_NAME]",
    );
}

function readPem(file: string, flag: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CliError(
      `cannot read ${flag} (or ${variable}) file ${file}: ${errorMessage(error)}; give the path of a PEM file`,
      ExitCode.usage,
    );
  }
}

/**
 * The TLS the flags (or the environment) ask for, with the PEM files read; undefined for
 * plaintext HTTP/2, the default.
 *
 * @throws CliError usage for an unreadable file, a certificate without its key, or a bad switch
 */
export function resolveClientTls(
  flags: ClientTlsFlags,
  env: Env = process.env,
): ClusterTlsOptions | undefined {
  const switchValue = env["GUILDHALL_CLIENT_TLS"]?.trim().toLowerCase();
  if (switchValue !== undefined && !["", "0", "1", "false", "true"].includes(switchValue)) {
    throw new CliError(
      `GUILDHALL_CLIENT_TLS must be 1 or true (or 0 or false), got ${JSON.stringify(env["GUILDHALL_CLIENT_TLS"])}`,
      ExitCode.usage,
    );
  }
  const caFile = pick(flags.tlsCa, env, "GUILDHALL_CLIENT_TLS_CA");
  const certFile = pick(flags.tlsCert, env, "GUILDHALL_CLIENT_TLS_CERT");
  const keyFile = pick(flags.tlsKey, env, "GUILDHALL_CLIENT_TLS_KEY");
  const serverName = pick(flags.tlsServerName, env, "GUILDHALL_CLIENT_TLS_SERVER_NAME");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new CliError(
      "a client certificate needs its key: give both --tls-cert and --tls-key (or GUILDHALL_CLIENT_TLS_CERT and GUILDHALL_CLIENT_TLS_KEY), or neither",
      ExitCode.usage,
    );
  }
  const on =
    flags.tls === true ||
    switchValue === "1" ||
    switchValue === "true" ||
    [caFile, certFile, serverName].some((value) => value !== undefined);
  if (!on) return undefined;
  return {
    ...(caFile !== undefined && {
      ca: readPem(caFile, "--tls-ca", "GUILDHALL_CLIENT_TLS_CA"),
    }),
    ...(certFile !== undefined && {
      cert: readPem(certFile, "--tls-cert", "GUILDHALL_CLIENT_TLS_CERT"),
    }),
    ...(keyFile !== undefined && {
      key: readPem(keyFile, "--tls-key", "GUILDHALL_CLIENT_TLS_KEY"),
    }),
    ...(serverName !== undefined && { serverName }),
  };
}
