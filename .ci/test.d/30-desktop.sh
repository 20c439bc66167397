#!/usr/bin/env bash
# The desktop app's tests: the UI's unit tests (vitest), then the real app driven end to end under
# Xvfb by WebDriver (tauri-driver + WebKitWebDriver), on the binaries of .ci/build (which also
# type-checks and builds the UI). Screenshots in target/desktop-e2e/.
# (`cargo test --workspace` covers the shell's own tests: command bodies on a temp store,
# generated TypeScript current.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "== ui unit tests (vitest)"
(cd ui && npx vitest run)

echo "== build (nothing to do when .ci/build ran and nothing changed)"
bash .ci/build

echo "== desktop end-to-end (WebDriver under Xvfb); screenshots in target/desktop-e2e/"
# One test file at a time: e2e.test.mjs runs one app and branch.test.mjs two, each with its own
# sila-hq; side by side on a machine with spare cores they would share the CPU their deadlines
# were sized without.
node --test --test-concurrency=1 --test-reporter=spec tests/desktop/
