// `guildhall dashboard` and `guildhall dev --dashboard` in a real browser: Debian's headless
// Chromium, driven by playwright-core, opens the page the built bin serves for a running hello
// guild, sees its agents and live messages, and shows what an agent wrote as text, never as
// markup. The browser test also writes the screenshot the READMEs show.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import { startHostProcess } from "../../../tools/test-support/host-process.js";
import { expectNoLeakedProcesses } from "../../../tools/test-support/processes.js";
import { REPO_ROOT, runCli, startCli, type RunningCli } from "./run-cli.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = path.join(REPO_ROOT, "docs/images/dashboard.png");
const TOKEN = "a-dashboard-token-for-tests-0123456789";
const HELLO_AGENTS = fileURLToPath(new URL("../../../examples/hello/dist", import.meta.url));

/** Opens a page in a browser of its own, closed (with its processes) when `use` is done. */
async function withPage<T>(use: (page: Page, errors: string[]) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Script errors and CSP reports land here: a page that works has none.
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    return await use(page, errors);
  } finally {
    await browser.close();
  }
}

/** The URL a running command printed after `prefix`. */
async function printedUrl(cli: RunningCli, prefix: string): Promise<string> {
  await cli.waitForOutput(prefix);
  const url = new RegExp(`${prefix}(http://\\S+/)`).exec(cli.output())?.[1];
  if (url === undefined) throw new Error(`no URL after "${prefix}" in:\n${cli.output()}`);
  return url;
}

async function stop(cli: RunningCli): Promise<void> {
  cli.kill("SIGINT");
  const result = await cli.result;
  expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({
    code: 0,
    stderr: "",
  });
}

afterEach(async () => {
  await expectNoLeakedProcesses(redis === undefined ? [] : [redis.pid ?? 0]);
});

let redis: RedisTestServer | undefined;
afterAll(async () => {
  await redis?.stop();
});

describe("guildhall dev --dashboard", () => {
  it("shows the hello guild's hosts, agents and live messages, with a thread view and an agent's detail", async () => {
    const cli = startCli([
      "dev",
      "examples/hello/guild.yaml",
      "--hosts",
      "2",
      "--dashboard",
      "--dashboard-port",
      "0",
    ]);
    try {
      const url = await printedUrl(cli, "dashboard on ");
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      await withPage(async (page, errors) => {
        await page.goto(url);
        await page.locator("#connection", { hasText: "live" }).waitFor();
        for (const agent of ["initiator", "responder"]) {
          await page.locator(`#guilds tr[data-agent="${agent}"] td.state-ready`).waitFor();
        }
        await expect(page.locator("#hosts tbody tr").count()).resolves.toBe(2);
        // A few rounds, so that every agent has a last message to show.
        await page.locator("#messages tr.message", { hasText: '"greeting":"Hello #3"' }).waitFor();
        await page.locator('#guilds tr[data-agent="responder"]', { hasText: "s ago" }).waitFor();
        const reply = page.locator("#messages tr.message", { hasText: "Hi initiator" }).first();
        await reply.waitFor();

        // A reply's thread holds the greeting it answers.
        await reply.locator("td:last-child button").click();
        await page.locator("#thread-bar", { hasText: "2 messages" }).waitFor();
        await expect(page.locator("#messages tr.message").count()).resolves.toBe(2);
        await page.locator("#thread-bar button").click();

        // An agent's detail: its spec, its durable state and what it printed.
        await page.locator('#guilds tr[data-agent="initiator"]').click();
        await page.locator("#agent pre.spec", { hasText: "Initiator" }).waitFor();
        await page.locator("#agent pre.logs", { hasText: "answered" }).waitFor();
        await page.locator("#messages tr.message details summary").first().click();

        mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        expect(errors).toEqual([]);
      });
    } finally {
      await stop(cli);
    }
  });

  it("renders a <script> an agent wrote as text and never runs it", async () => {
    const injected = "<script>window.__pwned=2</script><img src=x onerror=window.__pwned=1>";
    const cli = startCli([
      "dev",
      "examples/hello/guild.yaml",
      "--hosts",
      "1",
      "--dashboard",
      "--dashboard-port",
      "0",
      "--send",
      JSON.stringify({ greeting: injected }),
    ]);
    try {
      const url = await printedUrl(cli, "dashboard on ");
      await withPage(async (page) => {
        const response = await page.goto(url);
        expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
        // The responder, an agent, answers the greeting with the markup inside its reply.
        const row = page.locator("#messages tr.message", {
          hasText: "<script>window.__pwned=2</script>",
        });
        await row.filter({ hasText: "responder" }).first().waitFor();
        await row.filter({ hasText: "guildhall-dev" }).first().waitFor();
        await expect(page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).resolves.toBe(
          undefined,
        );
        // The only script is the page's own; no image was made from the payload.
        await expect(page.locator("script").count()).resolves.toBe(1);
        await expect(page.locator("#messages img").count()).resolves.toBe(0);
      });
    } finally {
      await stop(cli);
    }
  });
});

describe("guildhall dashboard", () => {
  beforeAll(async () => {
    redis = await startRedisServer();
  });

  it("shows a Redis-backed cluster: its host, the hello guild's agents, messages and an agent's logs", async () => {
    const prefix = `cli-dashboard-${process.pid}:`;
    const cluster = ["--redis", redis?.url ?? "", "--key-prefix", prefix];
    const host = await startHostProcess({
      redisUrl: redis?.url ?? "",
      keyPrefix: prefix,
      agentModules: [HELLO_AGENTS],
    });
    const cli = startCli(["dashboard", ...cluster, "--port", "0"]);
    try {
      const run = await runCli(["run", "examples/hello/guild.yaml", ...cluster]);
      expect(run.code).toBe(0);
      const base = await printedUrl(cli, "on ");
      const json = async <T>(path: string): Promise<T> => {
        const response = await fetch(new URL(path, base));
        expect(response.status).toBe(200);
        return (await response.json()) as T;
      };
      interface Shown {
        hosts: { address: string }[];
        guilds: { id: string; agents: { id: string; state: string; pid: number }[] }[];
      }
      const overview = await waitFor(
        async () => {
          const shown = await json<Shown>("api/overview");
          const agents = shown.guilds.find((g) => g.id === "hello")?.agents ?? [];
          return agents.length === 2 && agents.every((a) => a.state === "ready" && a.pid > 0)
            ? shown
            : undefined;
        },
        { description: "both hello agents ready on the dashboard" },
      );
      expect(overview.hosts.map((h) => h.address)).toEqual([host.address]);
      await waitFor(
        async () =>
          (await json<{ message: { sender: { id: string } } }[]>("api/guilds/hello/messages")).some(
            (m) => m.message.sender.id === "responder",
          ),
        { description: "the responder's replies on the dashboard" },
      );
      const detail = await waitFor(
        async () => {
          const shown = await json<{ spec: { name: string }; logs: { text: string }[] }>(
            "api/guilds/hello/agents/initiator",
          );
          return shown.logs.some((l) => l.text.includes("answered")) ? shown : undefined;
        },
        { description: "the initiator's logs on the dashboard" },
      );
      expect(detail.spec.name).toBe("Initiator");
      const missing = await fetch(new URL("api/guilds/hello/agents/nobody", base));
      expect(missing.status).toBe(404);
    } finally {
      await stop(cli);
      await runCli(["agents", "stop", "initiator", "responder", ...cluster]);
      await host.kill("SIGTERM");
    }
  });

  it("refuses to listen beyond loopback without GUILDHALL_DASHBOARD_TOKEN", async () => {
    const result = await runCli([
      "dashboard",
      "--redis",
      redis?.url ?? "",
      "--host",
      "0.0.0.0",
      "--port",
      "0",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("GUILDHALL_DASHBOARD_TOKEN");
    expect(result.stdout).toBe("");
  });

  it("refuses a bad port or host, naming the flag", async () => {
    const port = await runCli(["dashboard", "--redis", redis?.url ?? "", "--port", "70000"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("--port must be a port number");
    const host = await runCli(["dashboard", "--redis", redis?.url ?? "", "--host", "not a host"]);
    expect(host.code).toBe(2);
    expect(host.stderr).toContain("--host must be an IP address");
    const dev = await runCli(["dev", "examples/hello/guild.yaml", "--dashboard-port", "port"]);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toContain("--dashboard-port must be a port number");
  });

  it("with a token, refuses requests without it (401) and serves those with it", async () => {
    const cli = startCli(
      ["dashboard", "--redis", redis?.url ?? "", "--host", "0.0.0.0", "--port", "0"],
      { env: { GUILDHALL_DASHBOARD_TOKEN: TOKEN } },
    );
    try {
      const printed = await printedUrl(cli, "on ");
      const port = new URL(printed).port;
      const base = `http://127.0.0.1:${port}`;
      for (const path of ["/", "/app.js", "/api/overview", "/api/events"]) {
        const response = await fetch(`${base}${path}`);
        expect({ path, status: response.status }).toEqual({ path, status: 401 });
        await response.body?.cancel();
      }
      const wrong = await fetch(`${base}/api/overview`, {
        headers: { authorization: `Bearer ${TOKEN}x` },
      });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${base}/api/overview`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(right.status).toBe(200);
      expect(await right.json()).toMatchObject({ hosts: [], guilds: [] });

      // A person opens the link with the token once; the page then carries it in a cookie.
      await withPage(async (page, errors) => {
        await page.goto(`${base}/?token=${TOKEN}`);
        await page.locator("#connection", { hasText: "live" }).waitFor();
        await page.locator("#hosts", { hasText: "no agent host is registered" }).waitFor();
        expect(page.url()).toBe(`${base}/`);
        expect(errors).toEqual([]);
      });
    } finally {
      await stop(cli);
    }
  });
});
