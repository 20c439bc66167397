#!/usr/bin/env bash
# The Linux packages: builds the .deb and .rpm from the tree (packaging/build.sh: the UI, one
# release build of sila-desktop and sila, timed, then the Tauri bundler), then installs the .deb
# with apt, runs the installed app under Xvfb through first run and sign-in with WebDriver, and
# removes it again (tests/package/install.test.mjs). Then the update from HQ
# (tests/package/update.test.mjs): a throw-away update key made here is built into the app, a
# second package of the next patch version is made from the same release build (only
# sila-desktop recompiles, for its version), and the installed older app updates itself from a
# real sila-hq. Runs as root, as CI does. Screenshots in target/package-e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
. .ci/lib.sh
trap run_on_exit EXIT

keys="$(mktemp -d)"
on_exit rm -rf "$keys"
# A key for this run only (no password): the app is built with its public half, HQ checks
# releases against it, and the test signs the newer package with its private half.
stage "update key" ui/node_modules/.bin/tauri signer generate --ci -p "" -w "$keys/sila-update.key" >/dev/null
export SILA_UPDATE_KEY="$(cat "$keys/sila-update.key.pub")"

stage "package (tree's version)" bash packaging/build.sh deb rpm
current="$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -1)"
next="$(echo "$current" | awk -F. '{ printf "%d.%d.%d", $1, $2, $3 + 1 }')"
stage "package ($next)" env SILA_VERSION="$next" bash packaging/build.sh deb

echo "== installed package end-to-end (apt, WebDriver under Xvfb); screenshots in target/package-e2e/"
# One file at a time: both install the same package.
export SILA_DEB_NEXT="$(ls "$(target_dir)/package-$next"/release/bundle/deb/*.deb)"
export SILA_UPDATE_SIGNING_KEY="$keys/sila-update.key"
stage "package tests" node --test --test-concurrency=1 --test-reporter=spec tests/package/
