// The agent of the relay benchmark: it publishes each message's payload again on the topic its
// `replyTo` property names, so each message in is one handled (and committed) message out, the
// job bare-relay-child.mjs does with nothing of Guildhall in the way.
import { Agent } from "@guildhall/core";

/** Relays every payload to the topic `properties.replyTo`. */
export class Relay extends Agent {
  async onMessage(ctx) {
    await ctx.publish(this.properties.replyTo, ctx.payload);
  }
}
