// MemoryBus against the MessageBus contract shared with RedisBus.
import { MemoryBus } from "../src/index.js";
import { describeMessageBusContract } from "../../../tools/contracts/message-bus-contract.js";

describeMessageBusContract("MemoryBus", () => {
  const bus = new MemoryBus();
  return Promise.resolve({ bus, teardown: () => bus.close() });
});
