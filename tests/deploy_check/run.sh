#!/usr/bin/env bash
# ctest's entry (tests/CMakeLists.txt): run.sh DIR SCRIPT. Runs SCRIPT
# (check.cjs or check_test.cjs) with the npm packages in DIR/node_modules,
# which scripts/setup.sh (or ctest's deploy_check_install) installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "deploy-check: no node: run scripts/setup.sh" >&2; exit 1; }
# kubectl renders deploy/'s kustomizations (Debian's kubernetes-client, or
# $KUBECTL).
command -v "${KUBECTL:-kubectl}" >/dev/null ||
  { echo "deploy-check: no ${KUBECTL:-kubectl}: run scripts/setup.sh" >&2; exit 1; }
[ -d "$1/node_modules" ] || { echo "deploy-check: no $1/node_modules: run scripts/setup.sh" >&2; exit 1; }
NODE_PATH="$1/node_modules" exec node "$here/$2" "$here/../.."
