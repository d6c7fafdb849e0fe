import type * as Kubernetes from "@kubernetes/client-node";
import type { Informer, KubeConfig, ObjectCache, V1EndpointSlice } from "@kubernetes/client-node";
import { GuildhallError } from "@guildhall/core";
import { hostsFromEndpointSlices } from "./endpoint-slice-hosts.js";
import type { HostDiscovery, HostsListener } from "./host-discovery.js";

/** Options of {@link KubernetesDiscovery}. */
export interface KubernetesDiscoveryOptions {
  /** The namespace of the agent hosts' Service. */
  namespace: string;
  /** The name of the agent hosts' (headless) Service; its EndpointSlices are watched. */
  service: string;
  /** The agent host port. Default: each slice's port named "grpc", else its only port. */
  port?: number;
  /**
   * The cluster to talk to. Default: `KubeConfig.loadFromDefault()` on the first `ready()`, which
   * uses the in-cluster service account when running in a pod, else `$KUBECONFIG` or
   * `~/.kube/config`.
   */
  kubeConfig?: KubeConfig;
  /** First delay before restarting a failed watch, doubled up to `maxBackoffMs`. Default 200. */
  initialBackoffMs?: number;
  /** Longest delay between watch restarts. Default 10 000. */
  maxBackoffMs?: number;
}

interface ResolvedOptions {
  namespace: string;
  service: string;
  port: number | undefined;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

type SliceInformer = Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice>;

/**
 * The agent hosts behind a Kubernetes Service, kept current by watching its EndpointSlices
 * (`kubernetes.io/service-name=<service>`) with an informer: one list, then a watch, never a
 * request per placement. Only ready endpoints count.
 *
 * It owns its recovery: when the watch fails (API server restarted, network cut) it restarts it
 * with exponential backoff and jitter, relisting when the server answers 410 Gone, and meanwhile
 * keeps serving the last hosts it knew rather than none.
 */
export class KubernetesDiscovery implements HostDiscovery {
  readonly #options: ResolvedOptions;
  #kubeConfig: KubeConfig | undefined;
  #informer: SliceInformer | undefined;
  #current: readonly string[] = [];
  readonly #listeners = new Set<HostsListener>();
  #started: Promise<void> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #closed = false;
  /** Set after the first successful list; from then on failures are retried in the background. */
  #synced = false;

  constructor(options: KubernetesDiscoveryOptions) {
    for (const key of ["namespace", "service"] as const) {
      if (typeof options[key] !== "string" || options[key] === "") {
        throw new GuildhallError(
          "invalid-argument",
          `KubernetesDiscovery: "${key}" is required (the agent hosts' Service ${key})`,
        );
      }
    }
    this.#options = {
      namespace: options.namespace,
      service: options.service,
      port: options.port,
      initialBackoffMs: options.initialBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
    };
    this.#backoffMs = this.#options.initialBackoffMs;
    this.#kubeConfig = options.kubeConfig;
  }

  ready(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  hosts(): readonly string[] {
    return this.#current;
  }

  onChange(listener: HostsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#listeners.clear();
    await this.#informer?.stop();
  }

  async #start(): Promise<void> {
    // Loaded when started, not on import: the client takes most of a second to load.
    const kubernetes = await import("@kubernetes/client-node");
    if (this.#closed) return;
    const informer = (this.#informer ??= this.#createInformer(kubernetes));
    // The informer reports list and watch failures through its "error" event, not by rejecting.
    let failure: unknown;
    const onError = (error: unknown): void => {
      failure = error;
    };
    informer.on("error", onError);
    try {
      await informer.start();
    } catch (error) {
      failure = error;
    } finally {
      informer.off("error", onError);
    }
    if (failure !== undefined) {
      await informer.stop();
      this.#started = undefined; // the next ready() tries again
      const { namespace, service } = this.#options;
      const server = this.#kubeConfig?.getCurrentCluster()?.server ?? "(no cluster configured)";
      throw new GuildhallError(
        "unavailable",
        `KubernetesDiscovery: cannot watch EndpointSlices of service ${namespace}/${service} at ${server}: ${describeFailure(failure)}. ` +
          "Check the kubeconfig or in-cluster service account, and that its Role grants get/list/watch on discovery.k8s.io endpointslices.",
        { cause: failure },
      );
    }
    this.#synced = true;
    this.#refresh();
  }

  #createInformer(kubernetes: typeof Kubernetes): SliceInformer {
    const { namespace, service } = this.#options;
    const kubeConfig = (this.#kubeConfig ??= defaultKubeConfig(kubernetes));
    const api = kubeConfig.makeApiClient(kubernetes.DiscoveryV1Api);
    const labelSelector = `kubernetes.io/service-name=${service}`;
    const informer = kubernetes.makeInformer(
      kubeConfig,
      `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`,
      () => api.listNamespacedEndpointSlice({ namespace, labelSelector }),
      labelSelector,
    );
    const refresh = (): void => this.#refresh();
    informer.on("add", refresh);
    informer.on("update", refresh);
    informer.on("delete", refresh);
    // A successful (re)connect means the watch is healthy again: start backoff afresh.
    informer.on("connect", () => {
      this.#backoffMs = this.#options.initialBackoffMs;
    });
    // Once synced, a failed watch stops the informer; bringing it back is our job.
    informer.on("error", () => {
      if (this.#synced) this.#scheduleRestart();
    });
    return informer;
  }

  #scheduleRestart(): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    const delay = this.#backoffMs * (0.5 + Math.random() / 2);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed) return;
      // start() relists and resumes watching; if it fails again, "error" brings us back here.
      this.#informer?.start().catch(() => this.#scheduleRestart());
    }, delay);
  }

  #refresh(): void {
    if (this.#informer === undefined || this.#closed) return;
    const next = hostsFromEndpointSlices(
      this.#informer.list(this.#options.namespace),
      this.#options.port,
    );
    if (next.length === this.#current.length && next.every((h, i) => h === this.#current[i]))
      return;
    this.#current = Object.freeze(next);
    for (const listener of this.#listeners) listener(this.#current);
  }
}

function defaultKubeConfig(kubernetes: typeof Kubernetes): KubeConfig {
  const kubeConfig = new kubernetes.KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "statusCode" in error) {
    return `HTTP ${String(error.statusCode)}`;
  }
  return String(error);
}
