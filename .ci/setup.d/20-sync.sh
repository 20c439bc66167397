#!/usr/bin/env bash
# Sync's needs: the PouchDB peer baseline of the sync benchmark (pouchdb + pouchdb-server from npm,
# pinned by tests/pouchdb/package-lock.json). The sync tests themselves need nothing beyond cargo.
# Benchmarks are not run in CI, so CI skips this install unless SILA_BENCH=1. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${CI:-}" = "true" ] && [ "${SILA_BENCH:-}" != "1" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "20-sync: npm not found; the PouchDB baseline will be skipped" >&2
  exit 0
fi
if [ ! -d tests/pouchdb/node_modules/pouchdb-server ] || [ tests/pouchdb/package-lock.json -nt tests/pouchdb/node_modules ]; then
  # --ignore-scripts: the native addons we do not use (leveldown ships prebuilt binaries; sqlite3
  # would try to download one) are skipped; the baseline runs PouchDB on its in-memory adapter.
  (cd tests/pouchdb && npm ci --no-audit --no-fund --ignore-scripts)
  touch tests/pouchdb/node_modules
fi
