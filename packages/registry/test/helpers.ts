// Shared test helpers: per-test key prefixes and their cleanup, and agent specs.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { AgentSpec } from "@guildhall/core";

/** A key prefix no other test uses. */
export function randomPrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

/** Every key under a prefix (SCAN is fine here: tests are not a request path). */
export async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(
        cursor,
        "MATCH",
        `${escapeGlob(prefix)}*`,
        "COUNT",
        1000,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    return keys.sort();
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under a prefix. */
export async function deleteKeysUnder(url: string, prefix: string): Promise<void> {
  const keys = await keysUnder(url, prefix);
  if (keys.length === 0) return;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  } finally {
    client.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** A valid agent spec. */
export function agentSpec(id: string, overrides: Partial<AgentSpec> = {}): AgentSpec {
  return { id, name: `Agent ${id}`, className: "@acme/agents#Echo", ...overrides };
}
