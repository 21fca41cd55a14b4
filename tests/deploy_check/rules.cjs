// What the schemas cannot say about a workload's pods: the image is one
// deploy/build-images.sh builds, each container has requests and limits
// (the memory limit above the gRPC memory quota plus the overload test's
// margin), runs hardened as the image's user, a Deployment has gRPC
// readiness and liveness probes on the health port naming different health
// services (the ones the services serve), every file flag points into a
// mounted volume (TLS and the page-token key from Secrets), never through
// subPath, a service over TLS has an authorization policy, and
// history-service's replicas share a page-token key.
'use strict';
const { describe } = require('./load.cjs');

const kMiB = 1024 * 1024;
const kUnits = { Ki: 1024, Mi: kMiB, Gi: 1024 * kMiB, k: 1e3, M: 1e6, G: 1e9, m: 1e-3, '': 1 };
// Flags whose value is a file the pod must mount.
const kFileFlags = ['tls-cert', 'tls-key', 'tls-ca', 'auth-tokens-file', 'authz-policy',
  'checkpoint-key', 'page-token-key'];
// Flags whose file must come from a Secret.
const isSecretFlag = (name) => name.startsWith('tls-') || name === 'page-token-key';

function quantity(text) {
  const m = String(text).match(/^([0-9.]+)(Ki|Mi|Gi|k|M|G|m|)$/);
  return m ? Number(m[1]) * kUnits[m[2]] : NaN;
}

// Every value of --NAME=VALUE in ARGS, in order (the last one counts).
function flagValues(args, name) {
  const prefix = `--${name}=`;
  return (args || []).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
}

const flag = (args, name) => flagValues(args, name).pop();

function podSpecOf(doc) {
  if (doc.kind !== 'Deployment' && doc.kind !== 'Job') return null;
  return (doc.spec && doc.spec.template && doc.spec.template.spec) || null;
}

function imageErrors(container, facts) {
  if (facts.images.includes(container.image)) return [];
  return [`image ${container.image} is not one deploy/build-images.sh builds (${facts.images.join(', ')}): ` +
    'deploy/set-images.sh writes deploy/images.env\'s into the manifests'];
}

function resourceErrors(container, facts) {
  const errors = [];
  const { requests = {}, limits = {} } = container.resources || {};
  for (const [what, map] of [['requests', requests], ['limits', limits]]) {
    for (const key of ['cpu', 'memory']) {
      if (map[key] === undefined) errors.push(`no resources.${what}.${key}`);
    }
  }
  for (const key of ['cpu', 'memory']) {
    if (quantity(requests[key]) > quantity(limits[key])) errors.push(`${key} request > limit`);
  }
  const quota = flag(container.args, 'grpc-memory-quota-mib');
  if (quota !== undefined) {
    const needed = (Number(quota) + facts.memoryMarginMiB) * kMiB;
    if (!(quantity(limits.memory) >= needed)) {
      errors.push(`memory limit ${limits.memory} below --grpc-memory-quota-mib=${quota} + ` +
        `${facts.memoryMarginMiB} MiB (tests/overload_test.cc kMarginMiB)`);
    }
  }
  return errors;
}

function securityErrors(pod, container, facts) {
  const errors = [];
  const podContext = pod.securityContext || {};
  const context = container.securityContext || {};
  const user = context.runAsUser !== undefined ? context.runAsUser : podContext.runAsUser;
  if (!(context.runAsNonRoot || podContext.runAsNonRoot)) errors.push('not runAsNonRoot');
  if (user !== facts.uid) errors.push(`runAsUser ${user}, not the image's user ${facts.uid}`);
  const seccomp = (context.seccompProfile || podContext.seccompProfile || {}).type;
  if (seccomp !== 'RuntimeDefault') errors.push('seccompProfile is not RuntimeDefault');
  if (context.allowPrivilegeEscalation !== false) errors.push('allowPrivilegeEscalation not false');
  if (context.readOnlyRootFilesystem !== true) errors.push('root filesystem not read-only');
  if (!((context.capabilities || {}).drop || []).includes('ALL')) errors.push('capabilities: ALL not dropped');
  return errors;
}

function probeErrors(container, facts) {
  const errors = [];
  const health = flag(container.args, 'health-listen');
  const healthPort = health === undefined ? undefined : Number(health.split(':').pop());
  const wanted = { readinessProbe: facts.readiness, livenessProbe: facts.liveness };
  for (const [probe, service] of Object.entries(wanted)) {
    const grpc = (container[probe] || {}).grpc;
    if (!grpc) {
      errors.push(`no gRPC ${probe}`);
      continue;
    }
    if (grpc.service !== service) {
      errors.push(`${probe} asks for health service "${grpc.service || ''}", not "${service}"`);
    }
    if (grpc.port !== healthPort) errors.push(`${probe} port ${grpc.port} is not --health-listen's`);
  }
  if (facts.readiness === facts.liveness) errors.push('readiness and liveness share a name');
  return errors;
}

function mountErrors(pod, container, isService) {
  const errors = [];
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  const mounts = container.volumeMounts || [];
  for (const m of mounts) {
    if (m.subPath) errors.push(`volumeMount ${m.name} uses subPath (updates would not reach it)`);
    if (!volumes.has(m.name)) errors.push(`volumeMount ${m.name} names no volume`);
  }
  for (const name of kFileFlags) {
    const files = flagValues(container.args, name);
    if (isService && name.startsWith('tls-') && !files.length) errors.push(`no --${name} (mTLS)`);
    for (const file of files) errors.push(...fileMountErrors(name, file, mounts, volumes));
  }
  return errors;
}

// A service over TLS decides who may call what by a policy: history-service
// refuses to start without one (every certificate of the CA could write
// history), booking-service would let every certificate change bookings.
function policyErrors(container) {
  if (flag(container.args, 'tls-cert') === undefined || flag(container.args, 'authz-policy')) return [];
  return ['no --authz-policy: over TLS without a policy every client certificate of the CA may ' +
    'call every method (history-service refuses to start)'];
}

function fileMountErrors(name, file, mounts, volumes) {
  const errors = [];
  const mount = mounts.find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  if (!mount) {
    errors.push(`--${name}=${file} is in no mounted volume`);
  } else if (isSecretFlag(name) && !(volumes.get(mount.name) || {}).secret) {
    errors.push(`--${name}=${file} is not from a Secret`);
  }
  return errors;
}

// history-service signs page and resume tokens: its replicas must share
// the key (a random one per pod fails a token on every other pod).
function tokenKeyErrors(doc, container) {
  const replicas = doc.spec.replicas === undefined ? 1 : doc.spec.replicas;
  if (!/\/history-service:/.test(container.image) || !(replicas > 1)) return [];
  if (flag(container.args, 'page-token-key')) return [];
  return [`${replicas} replicas without --page-token-key: each would sign tokens with its own key`];
}

function podErrors(entries, facts) {
  const errors = [];
  for (const entry of entries) {
    const pod = podSpecOf(entry.doc);
    if (pod === null) continue;
    if (pod.automountServiceAccountToken !== false) {
      errors.push(`${describe(entry)}: mounts a service account token it does not use`);
    }
    for (const container of [...(pod.initContainers || []), ...(pod.containers || [])]) {
      const isService = entry.doc.kind === 'Deployment';
      const found = [
        ...imageErrors(container, facts),
        ...resourceErrors(container, facts),
        ...securityErrors(pod, container, facts),
        ...(isService ? probeErrors(container, facts) : []),
        ...mountErrors(pod, container, isService),
        ...(isService ? policyErrors(container) : []),
        ...(isService ? tokenKeyErrors(entry.doc, container) : []),
      ];
      for (const e of found) errors.push(`${describe(entry)}: container ${container.name}: ${e}`);
    }
  }
  return errors;
}

module.exports = { podErrors, podSpecOf };
