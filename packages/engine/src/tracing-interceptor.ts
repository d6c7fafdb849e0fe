// The client span of each unary call to a host, carrying its W3C trace context in the request
// headers, so the host's server span (and the agent start under it) joins the caller's trace.
import type { Interceptor } from "@connectrpc/connect";
import { traced, tracesHostCall } from "@guildhall/core";
import { SpanKind, context, propagation, type TextMapSetter } from "@opentelemetry/api";

const headerSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

/**
 * Traces unary host calls (reads only inside a trace: see tracesHostCall); streams (WatchAgents,
 * logs) last long and are left out.
 */
export const tracingInterceptor: Interceptor = (next) => (req) => {
  if (req.method.methodKind !== "unary" || !tracesHostCall(req.method.name, context.active())) {
    return next(req);
  }
  return traced(
    `${req.service.typeName}/${req.method.name}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "rpc.system": "connect_rpc",
        "rpc.service": req.service.typeName,
        "rpc.method": req.method.name,
        "server.address": new URL(req.url).host,
      },
    },
    () => {
      propagation.inject(context.active(), req.header, headerSetter);
      return next(req);
    },
  );
};
