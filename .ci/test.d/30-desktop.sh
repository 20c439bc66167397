#!/usr/bin/env bash
# The desktop app's tests: UI unit tests (vitest) and the UI's type check and build.
# (The WebDriver end-to-end run of the built app joins here once the shell builds in CI.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "== ui unit tests (vitest)"
(cd ui && npx vitest run)

echo "== ui type check and build"
(cd ui && npm run build --silent)
