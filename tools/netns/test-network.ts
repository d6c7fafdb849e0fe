// Test networks of Linux network namespaces: each node is a namespace joined to a bridge in the
// root namespace by a veth pair, so a test can cut one node off (its link down) while everything
// else keeps talking. Where namespaces cannot be made (not root, no `ip netns`), every node is
// loopback and partitions are unavailable; the test reports that instead of pretending.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Every namespace and link these networks create starts with this; it names the owning pid. */
const NAME_PREFIX = "ghf";

/** Networks this process made so far: their names differ by it. */
let networksMade = 0;

/** One machine of a test network. */
export interface NetworkNode {
  /** The node's IPv4 address (127.0.0.1 on a loopback network). */
  readonly ip: string;
  /** The namespace name, or undefined on a loopback network. */
  readonly namespace: string | undefined;
  /** The command prefix that runs a program inside the node (`ip netns exec <ns>`), or empty. */
  readonly exec: readonly string[];
  /** Cuts the node off from every other (its link goes down): packets are dropped, not refused. */
  partition(): Promise<void>;
  /** Puts the node's link up again. */
  heal(): Promise<void>;
}

/** A bridge and its nodes, or loopback standing in for them. */
export interface TestNetwork {
  /** `netns` with real namespaces, `loopback` when they could not be made. */
  readonly kind: "netns" | "loopback";
  /** Why the network is loopback; undefined for `netns`. */
  readonly fallbackReason: string | undefined;
  /** The root namespace's address on the bridge: servers there listen on it (127.0.0.1 on loopback). */
  readonly gatewayIp: string;
  /** Adds a node. */
  addNode(): Promise<NetworkNode>;
  /** Removes every namespace and link of the network. Idempotent; never rejects. */
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run("ip", args);
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`ip ${args.join(" ")} failed: ${stderr.trim() || String(error)}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid a network name was made by (names are `ghf<pid in 5 base-36 digits>…`), or undefined. */
function ownerOf(name: string): number | undefined {
  const match = /^ghf([0-9a-z]{5})/.exec(name);
  return match === null ? undefined : Number.parseInt(match[1]!, 36);
}

/**
 * Removes namespaces and links that networks of processes no longer running left behind (a run
 * that crashed before its cleanup). Networks of live processes, concurrent test files
 * included, are left alone.
 */
export async function removeLeftoverNetworks(): Promise<string[]> {
  const removed: string[] = [];
  const links = (await ip("-o", "link", "show"))
    .split("\n")
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1])
    .filter((name): name is string => name?.startsWith(NAME_PREFIX) === true);
  const namespaces = (await ip("netns", "list"))
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(NAME_PREFIX));
  for (const name of [...links, ...namespaces]) {
    const owner = ownerOf(name);
    if (owner === undefined || pidAlive(owner)) continue;
    if (namespaces.includes(name)) await killProcessesIn(name);
    const args = links.includes(name) ? ["link", "del", name] : ["netns", "del", name];
    // A veth pair goes with either end, so its peer may be gone already.
    await ip(...args).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

/** SIGKILLs whatever still runs in a namespace: a deleted namespace would leave it running, cut off. */
async function killProcessesIn(namespace: string): Promise<void> {
  const pids = await ip("netns", "pids", namespace).catch(() => "");
  for (const pid of pids.split("\n").filter((line) => /^\d+$/.test(line.trim()))) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

async function namespacesWork(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not running as root";
  try {
    await ip("netns", "list");
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A /24 in 10.0.0.0/8 that no interface of this machine uses. */
async function freeSubnet(): Promise<string> {
  const used = await ip("-o", "-4", "addr", "show");
  for (let attempt = 0; attempt < 50; attempt++) {
    const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error("no free 10.x.y.0/24 subnet for a test network");
}

function loopbackNetwork(reason: string): TestNetwork {
  const unavailable = (): Promise<void> =>
    Promise.reject(
      new Error(`partitions need network namespaces, which are unavailable here: ${reason}`),
    );
  return {
    kind: "loopback",
    fallbackReason: reason,
    gatewayIp: "127.0.0.1",
    addNode: () =>
      Promise.resolve({
        ip: "127.0.0.1",
        namespace: undefined,
        exec: [],
        partition: unavailable,
        heal: unavailable,
      }),
    destroy: () => Promise.resolve(),
  };
}

/**
 * Creates a bridge in the root namespace with an address of its own, to which nodes are added
 * as namespaces; falls back to loopback (see {@link TestNetwork.fallbackReason}) when namespaces
 * cannot be made. Removes leftovers of crashed earlier runs first.
 */
export async function createTestNetwork(): Promise<TestNetwork> {
  const reason = await namespacesWork();
  if (reason !== undefined) return loopbackNetwork(reason);
  await removeLeftoverNetworks();
  // Interface names hold at most 15 characters: 3 + 5 (pid) + 1 (network of this process) + "v"
  // + up to 3 digits.
  const serial = (networksMade++ % 36).toString(36);
  const tag = `${NAME_PREFIX}${process.pid.toString(36).padStart(5, "0")}${serial}`;
  const bridge = `${tag}b`;
  const subnet = await freeSubnet();
  const gatewayIp = `${subnet}.1`;
  const namespaces: string[] = [];
  const links: string[] = [bridge];
  let destroyed = false;
  try {
    await ip("link", "add", bridge, "type", "bridge");
    await ip("addr", "add", `${gatewayIp}/24`, "dev", bridge);
    await ip("link", "set", bridge, "up");
  } catch (error) {
    await ip("link", "del", bridge).catch(() => undefined);
    return loopbackNetwork(error instanceof Error ? error.message : String(error));
  }

  async function addNode(): Promise<NetworkNode> {
    if (destroyed) throw new Error("the test network was destroyed");
    const index = namespaces.length;
    if (index > 200) throw new Error("a test network holds at most 200 nodes");
    const namespace = `${tag}n${index}`;
    const outer = `${tag}v${index}`;
    const inner = `${tag}p${index}`;
    const nodeIp = `${subnet}.${index + 2}`;
    namespaces.push(namespace);
    links.push(outer);
    await ip("netns", "add", namespace);
    await ip("link", "add", outer, "type", "veth", "peer", "name", inner);
    await ip("link", "set", inner, "netns", namespace);
    await ip("link", "set", outer, "master", bridge);
    await ip("link", "set", outer, "up");
    await ip("netns", "exec", namespace, "ip", "addr", "add", `${nodeIp}/24`, "dev", inner);
    await ip("netns", "exec", namespace, "ip", "link", "set", inner, "up");
    await ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up");
    return {
      ip: nodeIp,
      namespace,
      exec: ["ip", "netns", "exec", namespace],
      partition: async () => void (await ip("link", "set", outer, "down")),
      heal: async () => void (await ip("link", "set", outer, "up")),
    };
  }

  return {
    kind: "netns",
    fallbackReason: undefined,
    gatewayIp,
    addNode,
    async destroy() {
      destroyed = true;
      for (const link of links.splice(0)) await ip("link", "del", link).catch(() => undefined);
      for (const ns of namespaces.splice(0)) {
        await killProcessesIn(ns);
        await ip("netns", "del", ns).catch(() => undefined);
      }
    },
  };
}
