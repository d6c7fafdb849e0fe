// The agent host API of one host, as an engine dials it (gRPC over h2c).
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentHostService } from "@guildhall/proto";

/** A client of the host at `address` (`ip:port`). */
export function hostClient(address: string): Client<typeof AgentHostService> {
  return createClient(AgentHostService, createGrpcTransport({ baseUrl: `http://${address}` }));
}
