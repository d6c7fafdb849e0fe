// An agent module outside the fixtures directory the tests allow: loading it must be refused.
import { Agent } from "@guildhall/core";

export class Outsider extends Agent {
  onMessage() {}
}
