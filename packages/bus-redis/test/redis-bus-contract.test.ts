// RedisBus against the MessageBus contract shared with MemoryBus, on the private test Redis.
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { describeMessageBusContract, testRedisUrl } from "@guildhall/testing";
import { RedisBus } from "../src/index.js";
import { deleteKeys, expectNoBusConnections, randomPrefix } from "./helpers.js";

const url = testRedisUrl();
let admin: Redis;

beforeAll(() => {
  admin = new Redis(url);
});

afterAll(async () => {
  await admin.quit();
});

describeMessageBusContract("RedisBus", () => {
  const prefix = randomPrefix();
  const bus = new RedisBus({ url, prefix });
  return Promise.resolve({
    bus,
    teardown: async () => {
      await bus.close();
      await expectNoBusConnections(admin, prefix);
      await deleteKeys(admin, prefix);
    },
  });
});
