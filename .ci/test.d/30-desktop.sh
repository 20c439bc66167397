#!/usr/bin/env bash
# The desktop app's tests: UI unit tests (vitest), the UI's type check and build, then the real app
# built and driven end to end under Xvfb by WebDriver (tauri-driver + WebKitWebDriver).
# (`cargo test --workspace`, run before this, covers the shell's own tests: command bodies on a temp
# store, generated TypeScript current, capability = commands.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "== ui unit tests (vitest)"
(cd ui && npx vitest run)

echo "== ui type check and build"
(cd ui && npm run build --silent)

echo "== desktop app build"
cargo build -p sila-desktop -p sila-hq --bin sila-desktop --bin sila-hq --locked

echo "== desktop end-to-end (WebDriver under Xvfb); screenshots in target/desktop-e2e/"
node --test --test-reporter=spec tests/desktop/
