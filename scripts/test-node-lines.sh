#!/usr/bin/env bash
# Runs the unit tests under every supported Node.js line (README: 20, 22, 24), each with its own
# `node` binary taken from the npm registry's node-<platform>-<arch> package (the binaries the
# `node` package installs). Not part of `npm test` or CI: it downloads ~30 MB per line once, into
# a cache directory, and runs the suite once per line (several minutes each on 2 cores).
#
#   npm run test:node-lines                        # 20 22 24, unit tests (no *.int.test.ts)
#   NODE_LINES="22" npm run test:node-lines -- src/cli     # one line, some test files
#   NODE_LINES_DIR=/tmp/node-lines npm run test:node-lines  # where the binaries are kept
#
# The native and wasm dependencies (DuckDB's N-API addon, PGlite) are ABI-stable across lines,
# so one node_modules serves all three; `npm ci` itself is checked on the line you install with.
set -euo pipefail
cd "$(dirname "$0")/.."

lines="${NODE_LINES:-20 22 24}"
cache="${NODE_LINES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel/node-lines}"
platform="$(node -p 'process.platform')-$(node -p 'process.arch')"
summary=()
status=0

for line in $lines; do
  dir="$cache/$line"
  bin="$dir/node_modules/node-$platform/bin/node"
  if [ ! -x "$bin" ]; then
    echo "== fetching node-$platform@$line (npm registry) into $dir"
    mkdir -p "$dir"
    # The arch package directly: the `node` package only fetches it in a preinstall script,
    # which npm no longer runs without approval.
    npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node-$platform@$line" >/dev/null
  fi
  version="$("$bin" --version)"
  echo "== Node $version: vitest (unit tests)"
  # vitest forks its workers with process.execPath, so every test runs on this binary.
  if "$bin" node_modules/vitest/vitest.mjs run --exclude 'src/**/*.int.test.ts' "$@"; then
    summary+=("Node $version: passed")
  else
    summary+=("Node $version: FAILED")
    status=1
  fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$status"
