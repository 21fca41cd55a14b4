#!/usr/bin/env bash
# Installs the manifest check's npm packages (versions pinned by
# package-lock.json) into DIR/node_modules (default build/deploy-check), once:
# again only when the lock file changes. Called by scripts/setup.sh; nothing
# is downloaded while building or testing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../build/deploy-check}
mkdir -p "$dir"
# installed.lock: the lock file of the last install that finished.
cmp -s "$here/package-lock.json" "$dir/installed.lock" && exit 0
cp "$here/package.json" "$here/package-lock.json" "$dir/"
echo "deploy-check: npm ci into $dir"
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
cp "$here/package-lock.json" "$dir/installed.lock"
