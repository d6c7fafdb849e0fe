import type { V1EndpointSlice } from "@kubernetes/client-node";

/**
 * The host addresses a set of EndpointSlices advertise: every address of every ready endpoint,
 * joined with the port. Kubernetes says an unset `ready` condition means ready; a terminating
 * endpoint is never ready. IPv6 addresses are bracketed so the result is always `host:port`.
 *
 * @param port the port to use; default: the slice's port named "grpc", else its only port.
 */
export function hostsFromEndpointSlices(
  slices: Iterable<V1EndpointSlice>,
  port?: number,
): string[] {
  const hosts = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType === "FQDN") continue;
    const slicePort =
      port ?? slice.ports?.find((p) => p.name === "grpc")?.port ?? soleValue(slice.ports)?.port;
    if (slicePort === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const conditions = endpoint.conditions ?? {};
      if (conditions.ready === false || conditions.terminating === true) continue;
      for (const address of endpoint.addresses) {
        hosts.add(address.includes(":") ? `[${address}]:${slicePort}` : `${address}:${slicePort}`);
      }
    }
  }
  return [...hosts].sort();
}

function soleValue<T>(items: T[] | undefined): T | undefined {
  return items?.length === 1 ? items[0] : undefined;
}
