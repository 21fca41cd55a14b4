// The manifest check (ctest deploy_check): every document of deploy/*.yaml
// against Kubernetes' schemas, then the project's rules (rules.cjs,
// network.cjs). Prints each problem with its file, document, kind and name;
// exits 1 if there is any.
//   NODE_PATH=build/deploy-check/node_modules node tests/deploy_check/check.cjs [REPO]
'use strict';
const path = require('node:path');
const { loadManifests, loadFacts } = require('./load.cjs');
const { schemaErrors } = require('./schema.cjs');
const { podErrors } = require('./rules.cjs');
const { networkErrors } = require('./network.cjs');

// All problems of the manifests in DOCS ({file, index, doc} entries).
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

function main() {
  const root = path.resolve(process.argv[2] || path.join(__dirname, '../..'));
  const { docs, errors: parseErrors } = loadManifests(path.join(root, 'deploy'));
  const errors = [...parseErrors, ...check(docs, loadFacts(root))];
  for (const e of errors) console.error(`deploy-check: ${e}`);
  const files = new Set(docs.map((d) => d.file)).size;
  if (errors.length > 0) {
    console.error(`deploy-check: ${errors.length} problem(s) in ${docs.length} documents`);
    process.exit(1);
  }
  console.log(`deploy-check: ${docs.length} documents in ${files} files valid`);
}

if (require.main === module) main();
module.exports = { check };
