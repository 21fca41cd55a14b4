// The manifest check (ctest deploy_check): what an operator applies, as
// applied: `kubectl kustomize` of deploy/base and deploy/overlays/local, each
// with deploy/jobs/*.yaml (the migrator's Jobs, created one at a time),
// against Kubernetes' schemas, then the project's rules (rules.cjs,
// network.cjs) and the layout's promises (layout.cjs: no Job in deploy/*.yaml
// or a render; each Job of its own with generateName and a TTL; the
// PrometheusRule's groups are the plain rule file's). Prints each problem
// with its file (or render), document, kind and name; exits 1 if there is any.
//   NODE_PATH=build/deploy-check/node_modules [KUBECTL=kubectl] node tests/deploy_check/check.cjs [REPO]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const { loadManifests, renderKustomization, loadFacts } = require('./load.cjs');
const { schemaErrors } = require('./schema.cjs');
const { podErrors } = require('./rules.cjs');
const { networkErrors } = require('./network.cjs');
const { noJobErrors, jobErrors, monitoringErrors, kustomizationErrors } = require('./layout.cjs');

// All problems of the manifests in DOCS ({file, index, doc} entries), one
// set applied together.
function check(docs, facts) {
  const errors = schemaErrors(docs);
  // The rules read fields the schemas vouch for: a malformed document is
  // reported above, not again by a rule tripping over it.
  for (const rules of [podErrors, networkErrors]) {
    try {
      errors.push(...rules(docs, facts));
    } catch (e) {
      if (errors.length === 0) throw e;
    }
  }
  return errors;
}

// What deploy/ holds, loaded: {base, local, jobs, top, monitoring, rules,
// kustomizations, errors}.
function loadDeploy(root) {
  const deploy = path.join(root, 'deploy');
  const loaded = {
    base: renderKustomization(root, 'deploy/base'),
    local: renderKustomization(root, 'deploy/overlays/local'),
    jobs: loadManifests(path.join(deploy, 'jobs'), 'deploy/jobs'),
    top: loadManifests(deploy, 'deploy'),
    monitoring: loadManifests(path.join(deploy, 'monitoring'), 'deploy/monitoring'),
  };
  const errors = Object.values(loaded).flatMap((l) => l.errors);
  // The plain rule file (Prometheus rule_files:, no kind): compared, not validated here.
  loaded.monitoring.docs = loaded.monitoring.docs.filter((e) => !e.file.endsWith('alert-rules.yaml'));
  const rules = YAML.parse(fs.readFileSync(path.join(deploy, 'monitoring/alert-rules.yaml'), 'utf8'));
  const kustomizations = ['base', 'overlays/local'].map((dir) => ({
    file: `deploy/${dir}/kustomization.yaml`,
    doc: YAML.parse(fs.readFileSync(path.join(deploy, dir, 'kustomization.yaml'), 'utf8')),
  }));
  return { ...loaded, rules, kustomizations, errors };
}

// Every problem of deploy/ as LOADED (loadDeploy).
function checkDeploy(loaded, facts) {
  const { base, local, jobs, top, monitoring, rules } = loaded;
  return [
    ...loaded.errors,
    ...check(base.docs, facts),
    ...check([...local.docs, ...jobs.docs], facts),
    ...schemaErrors(top.docs),
    ...noJobErrors(top.docs, '`kubectl apply -f deploy/`'),
    ...noJobErrors(base.docs, 'the base'),
    ...noJobErrors(local.docs, 'the local overlay'),
    ...jobErrors(jobs.docs),
    ...monitoringErrors(rules, monitoring.docs, local.docs),
    ...kustomizationErrors(loaded.kustomizations),
  ];
}

function main() {
  const root = path.resolve(process.argv[2] || path.join(__dirname, '../..'));
  const loaded = loadDeploy(root);
  const errors = checkDeploy(loaded, loadFacts(root));
  for (const e of errors) console.error(`deploy-check: ${e}`);
  const sets = [loaded.base, loaded.local, loaded.jobs, loaded.top, loaded.monitoring];
  const count = sets.reduce((n, s) => n + s.docs.length, 0);
  if (errors.length > 0) {
    console.error(`deploy-check: ${errors.length} problem(s) in ${count} documents`);
    process.exit(1);
  }
  console.log(`deploy-check: ${count} documents valid (base ${loaded.base.docs.length}, local overlay ` +
    `${loaded.local.docs.length} rendered by ${process.env.KUBECTL || 'kubectl'} kustomize; ` +
    `${loaded.jobs.docs.length} Jobs; ${loaded.top.docs.length} at deploy/; ` +
    `${loaded.monitoring.docs.length} monitoring)`);
}

if (require.main === module) main();
module.exports = { check, loadDeploy, checkDeploy };
