// The public API of @guildhall/local.
export { startLocalCluster } from "./local-cluster.js";
export type { LocalCluster, LocalClusterHost, LocalClusterOptions } from "./local-cluster.js";
