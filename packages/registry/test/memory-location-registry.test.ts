import { MemoryLocationRegistry } from "../src/index.js";
import { describeLocationRegistryContract } from "./contract.js";

describeLocationRegistryContract("MemoryLocationRegistry", () => {
  const registry = new MemoryLocationRegistry();
  return { open: () => registry, dispose: () => registry.close() };
});
