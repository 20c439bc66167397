#!/usr/bin/env bash
# The HQ console's browser tests: the real `sila-hq serve` (with the console's UI embedded) on a
# free port with a real SQLite file, two branches made and synced by the real `sila` client, and
# Debian's Chromium driven by playwright-core, on the binaries of .ci/build. Screenshots in
# target/hq-e2e/.
# (`cargo test --workspace` covers the console's storage and HTTP layer.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "== build (nothing to do when .ci/build ran and nothing changed)"
bash .ci/build
test -f ui/dist-hq/hq.html || { echo "40-hq-console: ui/dist-hq is missing after the build" >&2; exit 1; }

echo "== hq console end-to-end (Chromium + playwright-core); screenshots in target/hq-e2e/"
node --test --test-reporter=spec tests/hq-console/
