// The agent the spawn benchmark starts: nothing but the Agent base class, so the numbers measure
// the process manager, not agent code.
import { Agent } from "@guildhall/core";

export class Noop extends Agent {
  onMessage() {}
}
