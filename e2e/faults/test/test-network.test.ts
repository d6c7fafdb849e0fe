// The network the scenarios run on (tools/netns): a node in its own namespace reaches a server
// on the gateway address, a partition drops its packets (connections time out, nothing is
// refused) until it heals, and networks left by processes that died are removed by name.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestNetwork,
  removeLeftoverNetworks,
  type TestNetwork,
} from "../../../tools/netns/test-network.js";

const run = promisify(execFile);

// Connects to host:port from inside `exec` and prints how it went.
const PROBE = `
const socket = require("node:net").connect(Number(process.argv[2]), process.argv[1]);
socket.setTimeout(1000, () => { console.log("timeout"); process.exit(0); });
socket.on("connect", () => { console.log("connected"); process.exit(0); });
socket.on("error", (e) => { console.log(e.code); process.exit(0); });
`;

async function probe(exec: readonly string[], host: string, port: number): Promise<string> {
  const [command, ...args] = [...exec, process.execPath, "-e", PROBE, host, String(port)];
  const { stdout } = await run(command, args);
  return stdout.trim();
}

let network: TestNetwork;
let server: Server;
let port: number;

beforeAll(async () => {
  network = await createTestNetwork();
  server = createServer((socket) => socket.end());
  server.listen(0, network.gatewayIp);
  await once(server, "listening");
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server?.close();
  await network?.destroy();
});

describe("a test network", () => {
  it("cuts a node off while partitioned and lets it through again once healed", async () => {
    const node = await network.addNode();
    if (network.kind === "loopback") {
      console.log(`[faults:network] loopback only: ${network.fallbackReason}`);
      await expect(node.partition()).rejects.toThrow(/network namespaces/);
      return;
    }
    expect(node.ip).not.toBe(network.gatewayIp);
    expect(await probe(node.exec, network.gatewayIp, port)).toBe("connected");
    await node.partition();
    expect(await probe(node.exec, network.gatewayIp, port)).toBe("timeout");
    await node.heal();
    expect(await probe(node.exec, network.gatewayIp, port)).toBe("connected");
  });

  it("removes the namespaces and links of a process that died, and only those", async () => {
    if (network.kind === "loopback") {
      expect(network.fallbackReason).toMatch(/./);
      return;
    }
    const gone = spawn(process.execPath, ["-e", ""]);
    await once(gone, "exit");
    const tag = `ghf${gone.pid!.toString(36).padStart(5, "0")}`;
    await run("ip", ["link", "add", `${tag}b`, "type", "bridge"]);
    await run("ip", ["netns", "add", `${tag}n0`]);
    const removed = await removeLeftoverNetworks();
    expect(removed.sort()).toEqual([`${tag}b`, `${tag}n0`]);
    const { stdout: links } = await run("ip", ["-o", "link", "show"]);
    const { stdout: namespaces } = await run("ip", ["netns", "list"]);
    expect(links).not.toContain(`${tag}b`);
    expect(namespaces).not.toContain(`${tag}n0`);
    // This process's own network is still there.
    expect(await probe((await network.addNode()).exec, network.gatewayIp, port)).toBe("connected");
  });
});
