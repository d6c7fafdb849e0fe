// The host's software version, reported by the Health RPC: the version of this package.
import { readFileSync } from "node:fs";

let cached: string | undefined;

/** The version of @guildhall/host-server, or "unknown" if its package.json cannot be read. */
export function hostVersion(): string {
  if (cached === undefined) {
    try {
      const raw = readFileSync(new URL("../package.json", import.meta.url), "utf8");
      const version = (JSON.parse(raw) as { version?: unknown }).version;
      cached = typeof version === "string" ? version : "unknown";
    } catch {
      cached = "unknown";
    }
  }
  return cached;
}
