// The manifest check can fail (ctest deploy_check_breakage): deploy/'s
// manifests pass as they are (the local overlay as `kubectl kustomize`
// renders it, with deploy/jobs), and each breakage below, made to a copy of
// them, is reported with the document it is in.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadManifests, loadFacts } = require('./load.cjs');
const { check, loadDeploy, checkDeploy } = require('./check.cjs');

const root = path.resolve(process.argv[2] || path.join(__dirname, '../..'));
const facts = loadFacts(root);
const deploy = loadDeploy(root);
const original = [...deploy.local.docs, ...deploy.jobs.docs];

const nameOf = (doc) => doc.metadata.name || doc.metadata.generateName;
const find = (docs, kind, name) => docs.find((d) => d.doc.kind === kind && nameOf(d.doc) === name).doc;
const container = (docs, name) => find(docs, 'Deployment', name).spec.template.spec.containers[0];
const dropArg = (c, prefix) => { c.args = c.args.filter((a) => !a.startsWith(prefix)); };
const without = (docs, kind, name) => docs.filter((d) => !(d.doc.kind === kind && nameOf(d.doc) === name));

// [what, breakage (returns the docs), a line expected among the problems]
const kBreakages = [
  ['no readiness probe', (d) => { delete container(d, 'booking-service').readinessProbe; return d; },
    'Deployment booking-service\\).*no gRPC readinessProbe'],
  ['both probes on one name', (d) => { container(d, 'history-service').livenessProbe.grpc.service = 'readiness'; return d; },
    'livenessProbe asks for health service "readiness", not "liveness"'],
  ['a TCP liveness probe', (d) => { container(d, 'booking-service').livenessProbe = { tcpSocket: { port: 50051 } }; return d; },
    'no gRPC livenessProbe'],
  ['no limits', (d) => { delete container(d, 'history-service').resources.limits; return d; },
    'container history-service: no resources.limits.memory'],
  ['limit under the quota', (d) => { container(d, 'booking-service').resources.limits.memory = '256Mi'; return d; },
    'memory limit 256Mi below --grpc-memory-quota-mib=128'],
  ['a malformed quantity', (d) => { container(d, 'booking-service').resources.requests.memory = 'lots'; return d; },
    'Deployment booking-service\\): schema: /spec/template/spec/containers/0/resources/requests/memory'],
  ['replicas as text', (d) => { find(d, 'Deployment', 'history-service').spec.replicas = 'two'; return d; },
    'schema: /spec/replicas must be integer'],
  ['an unknown kind', (d) => { find(d, 'ConfigMap', 'booking-status-authz').kind = 'ConfigMapp'; return d; },
    'no Kubernetes schema for v1 ConfigMapp'],
  ['an image nothing builds', (d) => { container(d, 'booking-service').image = 'localhost:5000/booking-status/booking-service:latest'; return d; },
    'image localhost:5000/booking-status/booking-service:latest is not one deploy/build-images.sh builds'],
  ['an image without the registry', (d) => { container(d, 'history-service').image = 'booking-status/history-service:0.11.0'; return d; },
    'image booking-status/history-service:0.11.0 is not one'],
  ['a job image nothing builds', (d) => { find(d, 'Job', 'booking-status-verify-').spec.template.spec.containers[0].image = 'migrator'; return d; },
    'Job booking-status-verify-\\*\\).*image migrator is not one'],
  ['root', (d) => { find(d, 'Deployment', 'booking-service').spec.template.spec.securityContext.runAsUser = 0; return d; },
    'runAsUser 0, not the image\'s user'],
  ['a writable root', (d) => { container(d, 'history-service').securityContext.readOnlyRootFilesystem = false; return d; },
    'root filesystem not read-only'],
  ['capabilities kept', (d) => { delete find(d, 'Job', 'booking-status-up-').spec.template.spec.containers[0].securityContext.capabilities; return d; },
    'Job booking-status-up-\\*\\).*capabilities: ALL not dropped'],
  ['no CA', (d) => { dropArg(container(d, 'history-service'), '--tls-ca='); return d; }, 'no --tls-ca \\(mTLS\\)'],
  ['no policy', (d) => { dropArg(container(d, 'history-service'), '--authz-policy='); return d; },
    'Deployment history-service\\): container history-service: no --authz-policy'],
  ['a key outside the mounts', (d) => { container(d, 'booking-service').args.push('--tls-key=/tmp/k'); return d; },
    '--tls-key=/tmp/k is in no mounted volume'],
  ['subPath', (d) => { container(d, 'booking-service').volumeMounts[0].subPath = 'tls.crt'; return d; },
    'volumeMount tls uses subPath'],
  ['no default deny', (d) => without(d, 'NetworkPolicy', 'booking-status-default-deny'), 'no default deny'],
  ['no DNS', (d) => without(d, 'NetworkPolicy', 'booking-status-dns'), 'no DNS egress'],
  ['no policy for the migrator', (d) => without(d, 'NetworkPolicy', 'migrator'), 'none for migrator'],
  ['history open to a namespace', (d) => {
    find(d, 'NetworkPolicy', 'history-service').spec.ingress[0].from.push({ namespaceSelector: {} });
    return d;
  }, 'NetworkPolicy history-service\\): lets others than booking-service reach history-service:50052'],
  ['history open to all', (d) => {
    delete find(d, 'NetworkPolicy', 'history-service').spec.ingress[0].from;
    return d;
  }, 'lets others than booking-service reach history-service:50052'],
  ['a service at the other store', (d) => {
    find(d, 'NetworkPolicy', 'booking-service').spec.egress.push(
      { to: [{ podSelector: { matchLabels: { 'booking-status/store': 'history' } } }] });
    return d;
  }, 'lets booking-service reach the history store'],
  ['a store open to all', (d) => {
    delete find(d, 'NetworkPolicy', 'booking-store').spec.ingress[0].from;
    return d;
  }, 'lets others than booking-service, migrator reach the booking store'],
  ['no metrics scrape', (d) => {
    find(d, 'NetworkPolicy', 'history-service').spec.ingress.pop();
    return d;
  }, 'monitoring cannot reach history-service:9464'],
  ['replicas without a shared page-token key', (d) => {
    find(d, 'Deployment', 'history-service').spec.replicas = 2;  // the local overlay runs one
    dropArg(container(d, 'history-service'), '--page-token-key=');
    return d;
  },
    'Deployment history-service\\).*2 replicas without --page-token-key'],
  ['a page-token key not from a Secret', (d) => {
    const volume = find(d, 'Deployment', 'history-service').spec.template.spec.volumes.find((v) => v.name === 'page-token');
    delete volume.secret;
    volume.emptyDir = {};
    return d;
  }, '--page-token-key=/etc/history/page-token/key is not from a Secret'],
  ['no disruption budget', (d) => without(d, 'PodDisruptionBudget', 'booking-service'),
    'Deployment booking-service\\): no PodDisruptionBudget'],
];

// [what, breakage of a copy of loadDeploy's result, a line expected among
// checkDeploy's problems]: the layout's promises.
const job = (l, phase) => l.jobs.docs.find((e) => e.file === `deploy/jobs/${phase}.yaml`);
const kLayoutBreakages = [
  ['a Job in the base', (l) => { l.base.docs.push(structuredClone(job(l, 'expand'))); },
    'Job booking-status-expand-\\*\\): the base must start no Job'],
  ['a Job in the local overlay', (l) => { l.local.docs.push(structuredClone(job(l, 'backfill'))); },
    'the local overlay must start no Job'],
  ['a Job at deploy/', (l) => { l.top.docs.push({ ...structuredClone(job(l, 'verify')), file: 'deploy/jobs.yaml' }); },
    'deploy/jobs.yaml document 1 \\(Job booking-status-verify-\\*\\): `kubectl apply -f deploy/` must start no Job'],
  ['two Jobs in one file', (l) => { l.jobs.docs.push({ ...structuredClone(job(l, 'contract')), index: 2 }); },
    'deploy/jobs/contract.yaml: 2 documents'],
  ['a Job with a fixed name', (l) => { job(l, 'backfill').doc.metadata.name = 'booking-status-backfill'; },
    'jobs/backfill.yaml document 1 .*has a fixed name'],
  ['a Job kept forever', (l) => { delete job(l, 'rollback-expand').doc.spec.ttlSecondsAfterFinished; },
    'jobs/rollback-expand.yaml.*no ttlSecondsAfterFinished'],
  ['a refusal retried', (l) => { job(l, 'contract').doc.spec.podFailurePolicy.rules[0].onExitCodes.values = [2, 4, 5]; },
    'jobs/contract.yaml.*does not fail the Job at once on exit 6'],
  ['a Job under the wrong phase', (l) => { job(l, 'verify').doc.metadata.labels['booking-status/phase'] = 'contract'; },
    'jobs/verify.yaml.*label booking-status/phase is not "verify"'],
  ['a PrometheusRule that drifted', (l) => { l.rules.groups[0].rules[0].for = '1m'; },
    'PrometheusRule booking-status\\): spec.groups differ from monitoring/alert-rules.yaml'],
  ['a ServiceMonitor on a port no Service has', (l) => {
    l.monitoring.docs.find((e) => e.doc.kind === 'ServiceMonitor').doc.spec.endpoints[0].port = 'http';
  }, 'ServiceMonitor booking-status\\): does not scrape booking-service'],
  ['a kustomization kubectl 1.20 cannot read', (l) => { l.kustomizations[1].doc.components = ['../x']; },
    'deploy/overlays/local/kustomization.yaml: components: not known to kubectl 1.20'],
  ['a render that failed', (l) => { l.errors.push('kustomize deploy/base: boom'); }, 'kustomize deploy/base: boom'],
];

test('deploy/ as it is passes', () => {
  assert.deepStrictEqual(check(structuredClone(original), facts), []);
  assert.deepStrictEqual(checkDeploy(structuredClone(deploy), facts), []);
});

for (const [what, breakage, expected] of kBreakages) {
  test(`reported: ${what}`, () => {
    const errors = check(breakage(structuredClone(original)), facts);
    assert.ok(errors.some((e) => new RegExp(expected).test(e)),
      `expected /${expected}/ among:\n${errors.join('\n') || '(no problems reported)'}`);
  });
}

for (const [what, breakage, expected] of kLayoutBreakages) {
  test(`reported: ${what}`, () => {
    const loaded = structuredClone(deploy);
    breakage(loaded);
    const errors = checkDeploy(loaded, facts);
    assert.ok(errors.some((e) => new RegExp(expected).test(e)),
      `expected /${expected}/ among:\n${errors.join('\n') || '(no problems reported)'}`);
  });
}

test('reported: a file that is not YAML', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-check-'));
  fs.writeFileSync(path.join(dir, 'broken.yaml'), 'kind: Service\nmetadata: {name: [x\n');
  const { errors } = loadManifests(dir);
  fs.rmSync(dir, { recursive: true });
  assert.match(errors.join('\n'), /broken\.yaml document 1: YAML:/);
});
