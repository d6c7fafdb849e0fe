// A second baseline of the spawn benchmark: a forked process that imports @guildhall/core (as every
// agent module does) and then says hello. The gap between it and the bare child is what loading
// core costs; the gap between it and a cold spawn is the runner's own overhead.
/* global process */
await import("@guildhall/core");
process.send({ hello: true });
process.on("message", () => process.exit(0));
