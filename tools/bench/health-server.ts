// The yardstick of host calls: a Connect server over HTTP/2 (h2c) whose only service is a health
// Check that answers SERVING, in a process of its own as an agent host is. It tells its parent
// its port over IPC and runs until the parent goes.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@guildhall/proto";

const handler = connectNodeAdapter({
  routes: (router) => {
    router.service(Health, {
      check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
    });
  },
});
const server = http2.createServer({}, handler);
server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on("disconnect", () => process.exit(0));
