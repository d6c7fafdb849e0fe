// The agent a pool runner loads (and never starts) while it waits for work: the first agent module
// a process imports pays for resolving and linking @guildhall/core from a file and for compiling
// the code that checks and loads it, and an idle runner can pay that instead of the next spawn.
import { Agent } from "@guildhall/core";

/** Never run; only imported. */
export class WarmUpAgent extends Agent {
  onMessage(): void {}
}
