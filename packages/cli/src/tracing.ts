// The OpenTelemetry SDK of the commands that run guilds (`host`, `dev`, `run`). The packages trace
// through the OpenTelemetry API alone; this registers the SDK that makes those spans real and
// exports them over OTLP, only when an endpoint is configured. The SDK is loaded then and only
// then, so a command without tracing neither loads nor pays for it.
import { CliError, ExitCode } from "./exit-codes.js";

/** The values of `OTEL_EXPORTER_OTLP_PROTOCOL` this command can export with. */
export const SUPPORTED_OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;

/** The longest an exit waits for the last spans to be exported. */
const FLUSH_TIMEOUT_MS = 5_000;

/** How tracing is set up by the environment; `undefined` when it is off. */
export interface TracingConfig {
  readonly protocol: (typeof SUPPORTED_OTLP_PROTOCOLS)[number];
}

/**
 * Reads the standard OpenTelemetry variables: tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. The exporter reads the endpoint, headers and timeout itself.
 *
 * @throws CliError (usage) for a protocol or exporter this command does not ship
 */
export function tracingConfigOf(env: NodeJS.ProcessEnv): TracingConfig | undefined {
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_ENDPOINT"];
  if (endpoint === undefined || endpoint.trim() === "") return undefined;
  if (env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true") return undefined;
  const exporter = env["OTEL_TRACES_EXPORTER"]?.trim().toLowerCase();
  if (exporter === "none") return undefined;
  if (exporter !== undefined && exporter !== "" && exporter !== "otlp") {
    throw new CliError(
      `OTEL_TRACES_EXPORTER=${exporter} is not supported: guildhall exports traces over OTLP only; set it to otlp or none`,
      ExitCode.usage,
    );
  }
  const protocol = (
    env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ??
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] ??
    "http/protobuf"
  ).trim();
  if (!(SUPPORTED_OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new CliError(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use ${SUPPORTED_OTLP_PROTOCOLS.join(" or ")} (a collector's OTLP/HTTP port, usually 4318)`,
      ExitCode.usage,
    );
  }
  return { protocol: protocol as TracingConfig["protocol"] };
}

/** The registered SDK, to flush on exit. */
let provider: { shutdown(): Promise<void> } | undefined;

/**
 * Registers the SDK when the environment asks for tracing (see {@link tracingConfigOf}): a
 * batching OTLP exporter, W3C trace context, and a resource naming the service
 * (`OTEL_SERVICE_NAME`, default `defaultServiceName`), this process (`process.pid`, …), the host
 * and `OTEL_RESOURCE_ATTRIBUTES`. Does nothing when tracing is off or already started.
 *
 * @throws CliError (usage) for an unsupported protocol or exporter
 */
export async function startTracing(
  defaultServiceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const config = tracingConfigOf(env);
  if (config === undefined || provider !== undefined) return;
  const [
    { DiagConsoleLogger, DiagLogLevel, diag },
    resources,
    { NodeTracerProvider, BatchSpanProcessor },
    { ATTR_SERVICE_NAME },
    exporters,
  ] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/semantic-conventions"),
    config.protocol === "http/json"
      ? import("@opentelemetry/exporter-trace-otlp-http")
      : import("@opentelemetry/exporter-trace-otlp-proto"),
  ]);
  // An export that fails (collector down, refused) is worth a line on stderr, not silence.
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  // Later resources win: the detected ones (OTEL_SERVICE_NAME among them) over the default name.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaultServiceName }))
    .merge(
      resources.detectResources({
        detectors: [
          resources.hostDetector,
          resources.osDetector,
          resources.processDetector,
          resources.envDetector,
        ],
      }),
    );
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new exporters.OTLPTraceExporter())],
  });
  tracerProvider.register();
  provider = tracerProvider;
}

/** Exports the spans not yet exported and stops tracing; waits at most a few seconds. */
export async function stopTracing(): Promise<void> {
  const current = provider;
  if (current === undefined) return;
  provider = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    current.shutdown().catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
