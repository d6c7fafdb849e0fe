// A yardstick of the messaging benchmark: a forked Node.js process that sends back every IPC
// message it gets, as an agent process answers each delivery with its outcome. What a round trip
// through it costs, no host's agent hop can save.
/* global process */
process.on("message", (message) => process.send(message));
process.send({ ready: true });
