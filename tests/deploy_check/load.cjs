// Loads what the manifest check compares: the documents of a directory's
// *.yaml, or of a kustomization as `kubectl kustomize` renders it, and the
// facts the manifests must agree with, read from where they are defined (the images' names, tag and user; the health service names; the
// overload test's memory margin), so none is restated here.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const YAML = require('yaml');

// [{file, index, doc}] of each document of TEXT (FILE names it), plus parse
// errors, appended to DOCS and ERRORS.
function parseDocuments(text, file, docs, errors) {
  YAML.parseAllDocuments(text).forEach((parsed, index) => {
    if (parsed.errors.length > 0) {
      errors.push(`${file} document ${index + 1}: YAML: ${parsed.errors[0].message}`);
      return;
    }
    const doc = parsed.toJS();
    if (doc !== null && doc !== undefined) docs.push({ file, index: index + 1, doc });
  });
}

// [{file, index, doc}] of every document of every DIR/*.yaml (not
// subdirectories), files named LABEL/<file>, plus parse errors.
function loadManifests(dir, label = path.basename(dir)) {
  const docs = [];
  const errors = [];
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  for (const name of files) {
    parseDocuments(fs.readFileSync(path.join(dir, name), 'utf8'), path.join(label, name), docs,
      errors);
  }
  return { docs, errors };
}

// The documents `kubectl kustomize ROOT/DIR` renders (the kubectl on PATH,
// or $KUBECTL: Debian's kubernetes-client, kustomize v2.0.3, is what the
// kustomizations are written for), named "kustomize DIR".
function renderKustomization(root, dir) {
  const docs = [];
  const errors = [];
  const kubectl = process.env.KUBECTL || 'kubectl';
  let text;
  try {
    text = execFileSync(kubectl, ['kustomize', path.join(root, dir)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const why = e.code === 'ENOENT' ? `no ${kubectl}: run scripts/setup.sh` : String(e.stderr || e.message).trim();
    return { docs, errors: [`kustomize ${dir}: ${why}`] };
  }
  parseDocuments(text, `kustomize ${dir}`, docs, errors);
  return { docs, errors };
}

function readMatch(file, regex, what) {
  const match = fs.readFileSync(file, 'utf8').match(regex);
  if (!match) throw new Error(`cannot read ${what} from ${file}`);
  return match[1];
}

// deploy/images.env: KEY=VALUE lines, values optionally double-quoted.
function readEnvFile(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^([A-Z_]+)=(?:"([^"]*)"|(\S*))/);
    if (m) env[m[1]] = m[2] !== undefined ? m[2] : m[3];
  }
  return env;
}

function loadFacts(root) {
  const env = readEnvFile(path.join(root, 'deploy/images.env'));
  const runtime = path.join(root, 'common/server_runtime.h');
  const overload = path.join(root, 'tests/overload_test.cc');
  return {
    registry: env.IMAGE_REGISTRY,
    tag: env.IMAGE_TAG,
    images: env.IMAGE_NAMES.split(/\s+/).filter(Boolean).map(
      (name) => `${env.IMAGE_REGISTRY}/${env.IMAGE_REPOSITORY}/${name}:${env.IMAGE_TAG}`),
    uid: Number(env.IMAGE_UID),
    liveness: readMatch(runtime, /kLivenessService\[\] = "([^"]+)"/, 'the liveness name'),
    readiness: readMatch(runtime, /kReadinessService\[\] = "([^"]+)"/, 'the readiness name'),
    memoryMarginMiB: Number(readMatch(overload, /kMarginMiB = (\d+)/, 'the memory margin')),
  };
}

// "kustomize deploy/base document 4 (Deployment booking-service)",
// "deploy/jobs/up.yaml document 1 (Job booking-status-up-*)"
function describe({ file, index, doc }) {
  const meta = (doc && doc.metadata) || {};
  const name = meta.name || (meta.generateName && `${meta.generateName}*`);
  return `${file} document ${index} (${(doc && doc.kind) || '?'} ${name || '?'})`;
}

module.exports = { loadManifests, renderKustomization, loadFacts, describe };
