// What the schemas cannot say about the set of manifests as a whole: a
// default-deny NetworkPolicy, DNS allowed, a policy for every app; only
// booking-service reaches history-service's service port; each store is
// reached only by its service and the migrator; the monitoring namespace
// reaches the metrics ports; a PodDisruptionBudget for every Deployment;
// every Service selects a Deployment's (or a store's StatefulSet's) pods.
'use strict';
const { describe } = require('./load.cjs');
const { podSpecOf } = require('./rules.cjs');

const kApp = 'app.kubernetes.io/name';
const kStoreLabel = 'booking-status/store';
const kPostgresPort = 5432;
// Whose service port only these apps may reach (the rest reach it by the
// authz policy's leave, over the network not at all).
const kOnlyFrom = { 'history-service': ['booking-service'] };
// Each store and the apps that may reach it.
const kStores = { booking: ['booking-service', 'migrator'], history: ['history-service', 'migrator'] };

const kindOf = (entries, kind) => entries.filter((e) => e.doc.kind === kind);
const labelsOf = (selector) => (selector && selector.matchLabels) || {};
const selectsAll = (selector) =>
  Object.keys(labelsOf(selector)).length === 0 && !((selector || {}).matchExpressions || []).length;
const portOf = (address) => (address === undefined ? undefined : Number(address.split(':').pop()));

// Apps (pod template app labels) of Deployments and Jobs, with their ports.
function appsOf(entries) {
  const apps = new Map();
  for (const entry of entries) {
    const pod = podSpecOf(entry.doc);
    if (pod === null) continue;
    const app = labelsOf({ matchLabels: entry.doc.spec.template.metadata?.labels })[kApp];
    const args = (pod.containers || []).flatMap((c) => c.args || []);
    const get = (name) => (args.find((a) => a.startsWith(`--${name}=`)) || '').split('=')[1];
    apps.set(app, { entry, service: portOf(get('listen')), metrics: portOf(get('metrics-listen')) });
  }
  return apps;
}

function selects(policy, labels) {
  const want = labelsOf(policy.spec.podSelector);
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

function admitsPort(rule, port) {
  return !rule.ports || rule.ports.some((p) => p.port === undefined || p.port === port);
}

function peerApp(peer) {
  if (peer.namespaceSelector || peer.ipBlock || !peer.podSelector) return undefined;
  return labelsOf(peer.podSelector)[kApp];
}

function baselineErrors(policies, apps) {
  const errors = [];
  const denyAll = policies.some(({ doc }) => selectsAll(doc.spec.podSelector) &&
    ['Ingress', 'Egress'].every((t) => (doc.spec.policyTypes || []).includes(t)) &&
    !(doc.spec.ingress || []).length && !(doc.spec.egress || []).length);
  if (!denyAll) errors.push('NetworkPolicy: no default deny (all pods, Ingress and Egress, no rules)');
  const dns = policies.some(({ doc }) => selectsAll(doc.spec.podSelector) &&
    (doc.spec.egress || []).some((r) => (r.ports || []).some((p) => p.port === 53)));
  if (!dns) errors.push('NetworkPolicy: no DNS egress (port 53) for all pods');
  for (const app of apps.keys()) {
    if (!policies.some(({ doc }) => labelsOf(doc.spec.podSelector)[kApp] === app)) {
      errors.push(`NetworkPolicy: none for ${app}`);
    }
  }
  return errors;
}

function ingressErrors(policies, apps) {
  const errors = [];
  for (const [app, { service, metrics }] of apps) {
    const mine = policies.filter(({ doc }) => selects(doc, { [kApp]: app }));
    const allowed = kOnlyFrom[app];
    for (const entry of mine) {
      for (const rule of entry.doc.spec.ingress || []) {
        if (!allowed || service === undefined || !admitsPort(rule, service)) continue;
        const from = rule.from || [];
        if (!from.length || !from.every((peer) => allowed.includes(peerApp(peer)))) {
          errors.push(`${describe(entry)}: lets others than ${allowed.join(', ')} reach ${app}:${service}`);
        }
      }
    }
    if (metrics === undefined) continue;
    const scraped = mine.some(({ doc }) => (doc.spec.ingress || []).some((rule) =>
      admitsPort(rule, metrics) && (rule.from || []).some((peer) =>
        labelsOf(peer.namespaceSelector)['kubernetes.io/metadata.name'] === 'monitoring')));
    if (!scraped) errors.push(`NetworkPolicy: monitoring cannot reach ${app}:${metrics} (metrics)`);
  }
  return errors;
}

function storeErrors(policies) {
  const errors = [];
  for (const [store, allowed] of Object.entries(kStores)) {
    const storePolicies = policies.filter(({ doc }) => selects(doc, { [kStoreLabel]: store }) &&
      !selectsAll(doc.spec.podSelector));
    if (!storePolicies.length) errors.push(`NetworkPolicy: none for the ${store} store's pods`);
    for (const entry of storePolicies) {
      for (const rule of entry.doc.spec.ingress || []) {
        if (!(rule.from || []).length || !rule.from.every((p) => allowed.includes(peerApp(p)))) {
          errors.push(`${describe(entry)}: lets others than ${allowed.join(', ')} reach the ${store} store`);
        }
      }
    }
    for (const app of allowed) {
      const reaches = policies.some(({ doc }) => labelsOf(doc.spec.podSelector)[kApp] === app &&
        (doc.spec.egress || []).some((rule) => admitsPort(rule, kPostgresPort) &&
          (rule.to || []).some((p) => labelsOf(p.podSelector)[kStoreLabel] === store || p.ipBlock)));
      if (!reaches) errors.push(`NetworkPolicy: ${app} cannot reach the ${store} store`);
    }
  }
  for (const entry of policies) {
    const app = labelsOf(entry.doc.spec.podSelector)[kApp];
    for (const rule of entry.doc.spec.egress || []) {
      for (const peer of rule.to || []) {
        const store = labelsOf(peer.podSelector)[kStoreLabel];
        if (store && !(kStores[store] || []).includes(app)) {
          errors.push(`${describe(entry)}: lets ${app || 'every pod'} reach the ${store} store`);
        }
      }
    }
  }
  return errors;
}

function availabilityErrors(entries) {
  const errors = [];
  const templates = [...kindOf(entries, 'Deployment'), ...kindOf(entries, 'StatefulSet')]
    .map((e) => e.doc.spec.template.metadata?.labels || {});
  for (const entry of kindOf(entries, 'Deployment')) {
    const labels = entry.doc.spec.template.metadata?.labels || {};
    const covered = kindOf(entries, 'PodDisruptionBudget').some(({ doc }) =>
      !selectsAll(doc.spec.selector) && selects({ spec: { podSelector: doc.spec.selector } }, labels));
    if (!covered) errors.push(`${describe(entry)}: no PodDisruptionBudget selects its pods`);
  }
  for (const entry of kindOf(entries, 'Service')) {
    const want = entry.doc.spec.selector || {};
    if (!templates.some((l) => Object.entries(want).every(([k, v]) => l[k] === v))) {
      errors.push(`${describe(entry)}: selects no Deployment's or StatefulSet's pods`);
    }
  }
  return errors;
}

function networkErrors(entries) {
  const policies = kindOf(entries, 'NetworkPolicy');
  const apps = appsOf(entries);
  return [...baselineErrors(policies, apps), ...ingressErrors(policies, apps),
    ...storeErrors(policies), ...availabilityErrors(entries)];
}

module.exports = { networkErrors };
