// The server span of each unary RPC, a child of the caller's span when the call carries W3C trace
// context (the engine's HostClients sends it), so `runAgent` → `CreateAgent` → agent start is one
// trace across the engine's process and the host's. Streams (WatchAgents, logs) last for hours and
// are left out, as are health probes and reads made outside a trace (tracesHostCall).
import type { Interceptor } from "@connectrpc/connect";
import { traced, tracesHostCall } from "@guildhall/core";
import { ROOT_CONTEXT, SpanKind, propagation, type TextMapGetter } from "@opentelemetry/api";

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => {
    const keys: string[] = [];
    headers.forEach((_, key) => keys.push(key));
    return keys;
  },
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Traces the unary RPCs of `serviceTypeName` (e.g. `guildhall.agenthost.v1.AgentHostService`). */
export function createTracingInterceptor(serviceTypeName: string): Interceptor {
  return (next) => (req) => {
    if (req.method.methodKind !== "unary" || req.service.typeName !== serviceTypeName) {
      return next(req);
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.header, headerGetter);
    if (!tracesHostCall(req.method.name, parent)) return next(req);
    return traced(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          "rpc.system": "connect_rpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
        },
      },
      () => next(req),
    );
  };
}
