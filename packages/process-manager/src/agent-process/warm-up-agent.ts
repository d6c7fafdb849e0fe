// The agent a pool runner loads and constructs (and never starts) while it waits for work: the
// first agent module a process imports pays for resolving and linking @guildhall/core from a file
// and for compiling the code that checks, loads and constructs it, and an idle runner can pay that
// instead of the next spawn.
import { Agent } from "@guildhall/core";

/** Constructed once by a warming-up runner; never started. */
export class WarmUpAgent extends Agent {
  onMessage(): void {}
}
