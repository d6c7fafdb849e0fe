// grpc.health.v1.Health, the standard protocol of Kubernetes gRPC probes and load balancers. The
// two services answer two questions: AgentHostService (what readiness probes ask) is SERVING while
// the host takes new agents, NOT_SERVING while it drains or shuts down, so a draining pod leaves
// rotation; "" (what liveness probes ask) is NOT_SERVING only once the host shuts down, because a
// pod restarted for draining would take its running agents with it. It needs no token.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  AgentHostService,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type Health,
  type HealthCheckResponse,
} from "@guildhall/proto";
import {
  isShuttingDown,
  refusesAgents,
  type AgentHostState,
  type HostLifecycle,
} from "../host-state.js";
import type { HostMetrics } from "../metrics.js";
import { eventStream } from "./event-stream.js";

/** The services a health check may name; "" is the server as a whole. */
const KNOWN_SERVICES: ReadonlySet<string> = new Set(["", AgentHostService.typeName]);

function statusOf(service: string, state: AgentHostState): ServingStatus {
  const serving = service === "" ? !isShuttingDown(state) : !refusesAgents(state);
  return serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
}

/** The implementation of grpc.health.v1.Health for one host. */
export function createHealthService(
  host: HostLifecycle,
  metrics: HostMetrics,
): ServiceImpl<typeof Health> {
  return {
    async check(request) {
      if (!KNOWN_SERVICES.has(request.service)) {
        throw new ConnectError(
          `unknown service "${request.service}": check "" (the host) or "${AgentHostService.typeName}"`,
          Code.NotFound,
        );
      }
      return { status: statusOf(request.service, host.state) };
    },

    async *watch(request, ctx) {
      if (!KNOWN_SERVICES.has(request.service)) {
        // The protocol keeps the stream open for services that may appear later; this host's set is fixed.
        yield { status: ServingStatus.SERVICE_UNKNOWN };
        return;
      }
      const gauge = metrics.openStreams.labels({ method: "Health/Watch" });
      const states = eventStream<AgentHostState>((push) => {
        gauge.inc();
        const off = host.onChange(push);
        // The current state first: subscribing and reading it in one step misses no change.
        push(host.state);
        return () => {
          off();
          gauge.dec();
        };
      }, ctx.signal);
      let last: ServingStatus | undefined;
      for await (const state of states) {
        const status = statusOf(request.service, state);
        if (status === last) continue;
        last = status;
        const response: Partial<HealthCheckResponse> = { status };
        yield response;
      }
    },
  };
}
