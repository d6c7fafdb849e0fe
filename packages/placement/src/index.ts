export type { HostDiscovery, HostsListener } from "./host-discovery.js";
export { StaticDiscovery } from "./static-discovery.js";
export { KubernetesDiscovery } from "./kubernetes-discovery.js";
export type { KubernetesDiscoveryOptions } from "./kubernetes-discovery.js";
export { hostsFromEndpointSlices } from "./endpoint-slice-hosts.js";
export { roundRobin, leastLoaded } from "./placement-strategy.js";
export type {
  PlacementStrategy,
  PlacementCandidate,
  PlacementRequest,
} from "./placement-strategy.js";
export { eligibleHosts } from "./eligible-hosts.js";
export type { EligibleHostsOptions } from "./eligible-hosts.js";
