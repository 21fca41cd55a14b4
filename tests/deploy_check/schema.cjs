// Each document against Kubernetes' OpenAPI schema for its apiVersion and
// kind, as the npm package kubernetes-models carries it (Kubernetes 1.27).
// The schemas allow unknown fields (as the API server's non-strict decoding
// does); the project's rules (rules.cjs) require the fields that matter.
'use strict';
const { describe } = require('./load.cjs');

// "apps/v1" + "Deployment" -> kubernetes-models/apps/v1/Deployment; the core
// group ("v1") is kubernetes-models/v1/<Kind>.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^\w+$/.test(kind)) {
    return null;
  }
  try {
    return require(`kubernetes-models/${apiVersion}/${kind}`)[kind] || null;
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return null;
    throw e;
  }
}

function schemaErrors(entries) {
  const errors = [];
  for (const entry of entries) {
    const { doc } = entry;
    const Model = modelFor(doc.apiVersion, doc.kind);
    if (Model === null) {
      errors.push(`${describe(entry)}: no Kubernetes schema for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    const meta = doc.metadata || {};
    if (!meta.name && !(doc.kind === 'Job' && meta.generateName)) {
      errors.push(`${describe(entry)}: no metadata.name`);
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      const details = (e.errors || []).map((x) => `${x.instancePath || '/'} ${x.message || ''}`);
      errors.push(`${describe(entry)}: schema: ${details.length ? details.join('; ') : e.message}`);
    }
  }
  return errors;
}

module.exports = { schemaErrors };
