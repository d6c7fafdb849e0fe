// The acceptance of MemoryBus: the whole MessageBus contract, which RedisBus passes too.
import { MemoryBus } from "@guildhall/core";
import { describeMessageBusContract } from "@guildhall/testing";

describeMessageBusContract("MemoryBus", () => {
  const bus = new MemoryBus();
  return Promise.resolve({ bus, teardown: () => bus.close() });
});
