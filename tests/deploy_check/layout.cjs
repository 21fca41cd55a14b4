// What deploy/'s layout promises an operator (deploy/README.md): applying
// deploy/*.yaml, the base or an overlay starts no Job; every migrator run is
// a file of deploy/jobs/ of its own, one Job each, created on purpose with a
// fresh name (generateName), removed a while after it finishes
// (ttlSecondsAfterFinished), failing at once on the exit codes no retry
// gets past; the PrometheusRule carries exactly the plain rule file's
// groups, and the ServiceMonitor scrapes a port the services expose; the
// kustomizations use only what Debian's kubectl 1.20 (kustomize v2.0.3)
// knows, whichever kubectl renders them here.
'use strict';
const util = require('node:util');
const path = require('node:path');
const { describe } = require('./load.cjs');

const kPhaseLabel = 'booking-status/phase';
// Exit codes a Job must not retry (README "Exit codes"): 2 usage, 6 refused.
const kNeverRetried = [2, 6];

// The fields of a kustomization kustomize v2.0.3 reads (a newer one's
// `components`, `labels`, `replacements`, `patches` fail in kubectl 1.20).
const kKustomizeV2Fields = new Set(['apiVersion', 'kind', 'resources', 'bases', 'namespace',
  'namePrefix', 'nameSuffix', 'commonLabels', 'commonAnnotations', 'images', 'vars', 'crds',
  'patchesStrategicMerge', 'patchesJson6902', 'configMapGenerator', 'secretGenerator',
  'generatorOptions']);

// KUSTOMIZATIONS: {file, doc} of each kustomization.yaml.
function kustomizationErrors(kustomizations) {
  return kustomizations.flatMap(({ file, doc }) => Object.keys(doc || {})
    .filter((k) => !kKustomizeV2Fields.has(k))
    .map((k) => `${file}: ${k}: not known to kubectl 1.20's kustomize (v2.0.3)`));
}

// Documents of ENTRIES that would start a migrator run when applied.
function noJobErrors(entries, where) {
  return entries.filter(({ doc }) => doc.kind === 'Job' || doc.kind === 'CronJob')
    .map((e) => `${describe(e)}: ${where} must start no Job (deploy/jobs/ holds them)`);
}

function failPolicyErrors(spec) {
  const codes = ((spec.podFailurePolicy || {}).rules || [])
    .filter((r) => r.action === 'FailJob' && r.onExitCodes && r.onExitCodes.operator === 'In')
    .flatMap((r) => r.onExitCodes.values || []);
  const missing = kNeverRetried.filter((c) => !codes.includes(c));
  return missing.length ? [`podFailurePolicy does not fail the Job at once on exit ${missing.join(', ')}`] : [];
}

// ENTRIES: the documents of deploy/jobs/*.yaml.
function jobErrors(entries) {
  const errors = [];
  const perFile = new Map();
  for (const entry of entries) {
    const { doc } = entry;
    perFile.set(entry.file, (perFile.get(entry.file) || 0) + 1);
    const found = [];
    if (doc.kind !== 'Job') found.push('not a Job: deploy/jobs/ holds one Job per file');
    const meta = doc.metadata || {};
    const spec = doc.spec || {};
    const phase = path.basename(entry.file, '.yaml');
    if (meta.name || !meta.generateName) found.push('has a fixed name: use generateName (a rerun must not collide)');
    if (!(Number.isInteger(spec.ttlSecondsAfterFinished) && spec.ttlSecondsAfterFinished > 0)) {
      found.push('no ttlSecondsAfterFinished');
    }
    if ((meta.labels || {})[kPhaseLabel] !== phase) found.push(`label ${kPhaseLabel} is not "${phase}"`);
    found.push(...failPolicyErrors(spec));
    for (const e of found) errors.push(`${describe(entry)}: ${e}`);
  }
  for (const [file, count] of perFile) {
    if (count > 1) errors.push(`${file}: ${count} documents: one Job per file, created on purpose`);
  }
  return errors;
}

// RULES: the plain rule file's document; OPERATOR: deploy/monitoring's
// PrometheusRule and ServiceMonitor entries; SERVICES: the Services rendered.
function monitoringErrors(rules, operator, services) {
  const errors = [];
  const promRule = operator.find(({ doc }) => doc.kind === 'PrometheusRule');
  if (!promRule) errors.push('deploy/monitoring: no PrometheusRule');
  else if (!util.isDeepStrictEqual(promRule.doc.spec && promRule.doc.spec.groups, rules.groups)) {
    errors.push(`${describe(promRule)}: spec.groups differ from monitoring/alert-rules.yaml's groups`);
  }
  const monitor = operator.find(({ doc }) => doc.kind === 'ServiceMonitor');
  if (!monitor) return [...errors, 'deploy/monitoring: no ServiceMonitor'];
  for (const app of ['booking-service', 'history-service']) {
    const service = services.find(({ doc }) => doc.kind === 'Service' &&
      (doc.metadata.labels || {})['app.kubernetes.io/name'] === app);
    const ports = new Set(((service && service.doc.spec.ports) || []).map((p) => p.name));
    const selected = selectorMatches(monitor.doc.spec.selector, (service && service.doc.metadata.labels) || {});
    const scraped = (monitor.doc.spec.endpoints || []).some((e) => ports.has(e.port));
    if (!selected || !scraped) errors.push(`${describe(monitor)}: does not scrape ${app}'s Service by a named port`);
  }
  return errors;
}

function selectorMatches(selector, labels) {
  const { matchLabels = {}, matchExpressions = [] } = selector || {};
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v) &&
    matchExpressions.every((e) => e.operator === 'In' && (e.values || []).includes(labels[e.key]));
}

module.exports = { noJobErrors, jobErrors, monitoringErrors, kustomizationErrors };
