#!/usr/bin/env bash
# The HQ console's needs on a fresh Debian machine: Node and npm to build the console's UI
# (ui/dist-hq, built by .ci/build and .ci/start, embedded into sila-hq at compile time by
# crates/sila-hq/build.rs), Debian's Chromium for its browser tests, and playwright-core (pinned
# by tests/hq-console/package-lock.json; it drives /usr/bin/chromium and downloads no browser).
# Idempotent: run as root, again and again.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The UI's packages (shared with the desktop app's setup; npm ci only when the lock changed).
if [ ! -f ui/node_modules/.package-lock.json ] || ! cmp -s ui/package-lock.json ui/node_modules/.sila-lock; then
  (cd ui && npm ci --no-audit --no-fund)
  cp ui/package-lock.json ui/node_modules/.sila-lock
fi
# playwright-core for the browser tests.
if [ ! -f tests/hq-console/node_modules/.package-lock.json ] || ! cmp -s tests/hq-console/package-lock.json tests/hq-console/node_modules/.sila-lock; then
  (cd tests/hq-console && npm ci --no-audit --no-fund)
  cp tests/hq-console/package-lock.json tests/hq-console/node_modules/.sila-lock
fi
