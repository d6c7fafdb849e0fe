// The controls of the Kubernetes Pod Security Standards, "restricted" profile (which includes
// "baseline"), as a function listing what a pod spec breaks. Pod Security admission enforces the
// same rules on the namespace; checking here fails the change that breaks them, not the rollout.
// https://kubernetes.io/docs/concepts/security/pod-security-standards/
import { isRecord } from "./manifests.js";

const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);

const SELINUX_TYPES = new Set([
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
]);

/** `value` as written in a manifest, for messages. */
function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** Violations of the controls that apply to a pod and each container security context alike. */
function contextViolations(context: Record<string, unknown>, where: string): string[] {
  const problems: string[] = [];
  if (record(context["windowsOptions"])["hostProcess"] === true) {
    problems.push(`${where}: windowsOptions.hostProcess`);
  }
  const seLinux = record(context["seLinuxOptions"]);
  const seLinuxType = seLinux["type"] ?? "";
  if (typeof seLinuxType !== "string" || !SELINUX_TYPES.has(seLinuxType)) {
    problems.push(`${where}: seLinuxOptions.type ${show(seLinuxType)}`);
  }
  if (seLinux["user"] !== undefined || seLinux["role"] !== undefined) {
    problems.push(`${where}: seLinuxOptions.user/role set`);
  }
  if (record(context["appArmorProfile"])["type"] === "Unconfined") {
    problems.push(`${where}: appArmorProfile Unconfined`);
  }
  if (context["runAsNonRoot"] === false) problems.push(`${where}: runAsNonRoot false`);
  if (context["runAsUser"] === 0) problems.push(`${where}: runAsUser 0`);
  const seccomp = record(context["seccompProfile"])["type"];
  if (seccomp !== undefined && seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
    problems.push(`${where}: seccompProfile ${show(seccomp)}`);
  }
  return problems;
}

function containerViolations(
  container: Record<string, unknown>,
  pod: Record<string, unknown>,
): string[] {
  const where = `container ${show(container["name"])}`;
  const context = record(container["securityContext"]);
  const podContext = record(pod["securityContext"]);
  const problems = contextViolations(context, where);
  if (context["privileged"] === true) problems.push(`${where}: privileged`);
  if (context["allowPrivilegeEscalation"] !== false) {
    problems.push(`${where}: allowPrivilegeEscalation is not false`);
  }
  if (context["runAsNonRoot"] !== true && podContext["runAsNonRoot"] !== true) {
    problems.push(`${where}: runAsNonRoot is not true (neither container nor pod)`);
  }
  if (
    record(context["seccompProfile"])["type"] === undefined &&
    record(podContext["seccompProfile"])["type"] === undefined
  ) {
    problems.push(`${where}: no seccompProfile (neither container nor pod)`);
  }
  if (context["procMount"] !== undefined && context["procMount"] !== "Default") {
    problems.push(`${where}: procMount ${show(context["procMount"])}`);
  }
  const capabilities = record(context["capabilities"]);
  const dropped = Array.isArray(capabilities["drop"]) ? capabilities["drop"] : [];
  if (!dropped.includes("ALL")) problems.push(`${where}: capabilities.drop lacks ALL`);
  for (const added of Array.isArray(capabilities["add"]) ? capabilities["add"] : []) {
    // Restricted allows adding this one capability only (baseline allows a few more).
    if (added !== "NET_BIND_SERVICE") {
      problems.push(`${where}: adds capability ${show(added)}`);
    }
  }
  for (const port of Array.isArray(container["ports"]) ? container["ports"] : []) {
    const hostPort = record(port)["hostPort"];
    if (hostPort !== undefined && hostPort !== 0) {
      problems.push(`${where}: hostPort ${show(hostPort)}`);
    }
  }
  return problems;
}

/**
 * What `pod` (a pod spec) breaks of Pod Security "restricted"; empty when it complies.
 */
export function restrictedViolations(pod: Record<string, unknown>): string[] {
  const problems = contextViolations(record(pod["securityContext"]), "pod");
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (pod[field] === true) problems.push(`pod: ${field}`);
  }
  for (const sysctl of Array.isArray(record(pod["securityContext"])["sysctls"])
    ? (record(pod["securityContext"])["sysctls"] as unknown[])
    : []) {
    const name = show(record(sysctl)["name"]);
    if (!SAFE_SYSCTLS.has(name)) problems.push(`pod: sysctl ${name}`);
  }
  for (const volume of Array.isArray(pod["volumes"]) ? (pod["volumes"] as unknown[]) : []) {
    const types = Object.keys(record(volume)).filter((key) => key !== "name");
    for (const type of types) {
      if (!RESTRICTED_VOLUME_TYPES.has(type)) {
        problems.push(`volume ${show(record(volume)["name"])}: type ${type}`);
      }
    }
  }
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    for (const container of Array.isArray(pod[field]) ? (pod[field] as unknown[]) : []) {
      problems.push(...containerViolations(record(container), pod));
    }
  }
  return problems;
}
