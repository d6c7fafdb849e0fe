// The baseline of the spawn benchmark: a forked Node.js process that only says hello over IPC.
/* global process */
process.send({ hello: true });
process.on("message", () => process.exit(0));
