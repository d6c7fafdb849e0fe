// A million ids from four machines at once, each machine a worker thread with its own module
// instance: all unique, and each machine's ids and sequence numbers strictly increasing.
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { createMessageIdGenerator, parseMessageId } from "../src/ids.js";

// Workers load the built module (the test target builds first): they run outside vitest.
const idsModule = new URL("../dist/ids.js", import.meta.url).href;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.idsModule).then(({ createMessageIdGenerator }) => {
  const ids = createMessageIdGenerator({ machineId: workerData.machineId });
  const start = new Int32Array(workerData.start);
  parentPort.postMessage("ready");
  Atomics.wait(start, 0, 0);
  const out = new Array(workerData.count);
  for (let i = 0; i < workerData.count; i++) out[i] = ids.next();
  parentPort.postMessage(out.join("\\n"));
});
`;

function generate(machineId: number, count: number, start: SharedArrayBuffer) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { idsModule, machineId, count, start },
  });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const ids = new Promise<string[]>((resolve, reject) => {
    worker.on("message", (data: string) => {
      if (data === "ready") onReady();
      else resolve(data.split("\n"));
    });
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`worker exited with ${code} before answering`)));
  });
  return { ready, ids, stop: () => worker.terminate() };
}

describe("message ids across machines", () => {
  it("makes 1,000,000 unique ids on 4 machines in parallel, each machine's strictly increasing", async () => {
    const perMachine = 250_000;
    const machines = [1, 2, 3, 4];
    const start = new SharedArrayBuffer(4);
    const workers = machines.map((m) => generate(m, perMachine, start));
    try {
      await Promise.all(workers.map((w) => w.ready));
      Atomics.store(new Int32Array(start), 0, 1);
      Atomics.notify(new Int32Array(start), 0);
      const results = await Promise.all(workers.map((w) => w.ids));

      const all = new Set<string>();
      machines.forEach((machine, index) => {
        const ids = results[index]!;
        const machinePart = createMessageIdGenerator({ machineId: machine }).machineId;
        expect(ids).toHaveLength(perMachine);
        let previous = parseMessageId(ids[0]!);
        expect(previous.machineId).toBe(machinePart);
        for (let i = 1; i < ids.length; i++) {
          const id = ids[i]!;
          const parts = parseMessageId(id);
          if (
            !(ids[i - 1]! < id) ||
            parts.sequence <= previous.sequence ||
            parts.machineId !== machinePart
          ) {
            expect.fail(`machine ${machine}: id ${i} (${id}) does not follow ${ids[i - 1]}`);
          }
          previous = parts;
        }
        for (const id of ids) all.add(id);
      });
      expect(all.size).toBe(perMachine * machines.length);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  }, 30_000);
});
