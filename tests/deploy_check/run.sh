#!/usr/bin/env bash
# ctest's entry (tests/CMakeLists.txt): run.sh DIR SCRIPT. Runs SCRIPT
# (check.cjs or check_test.cjs) with the npm packages in DIR/node_modules,
# which scripts/setup.sh installed (install.sh does it here if it has not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "deploy-check: no node: run scripts/setup.sh" >&2; exit 1; }
"$here/install.sh" "$1" >&2
NODE_PATH="$1/node_modules" exec node "$here/$2" "$here/../.."
