#!/usr/bin/env bash
# The Linux packages: builds the .deb and .rpm from the tree (packaging/build.sh: the UI, one
# release build of sila-desktop and sila, timed, then the Tauri bundler), then installs the .deb
# with apt, runs the installed app under Xvfb through first run and sign-in with WebDriver, and
# removes it again (tests/package/). Runs as root, as CI does. Screenshots and the installed menu
# entry in target/package-e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

bash packaging/build.sh deb rpm
echo "== installed package end-to-end (apt, WebDriver under Xvfb); screenshots in target/package-e2e/"
node --test --test-reporter=spec tests/package/
