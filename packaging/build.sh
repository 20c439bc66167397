#!/usr/bin/env bash
# Builds Sila's installable Linux packages with the Tauri bundler: a .deb (Debian, Ubuntu) and an
# .rpm (Fedora, openSUSE). One release build makes both binaries that go in them: the desktop app
# (sila-desktop, the menu entry "صلة") and the command line (sila, as /usr/bin/sila); then
# `tauri bundle` (the CLI from ui/'s devDependencies, no compile of its own) packages that build
# as src-tauri/tauri.conf.json's "bundle" describes. The packages land in
# $CARGO_TARGET_DIR/package/release/bundle/{deb,rpm}/ (target/ by default); their paths are printed
# last.
#
#   bash packaging/build.sh            # .deb and .rpm
#   bash packaging/build.sh deb        # one of them
#
# Needs what .ci/setup installs (run it first, as root, on a fresh machine). The release build is
# the long part (about 15 minutes cold on two cores); run again with nothing changed, it only
# repackages.
#
# SILA_UPDATE_KEY: the public key updates from HQ must be signed with (the text of the `.pub` file
#   `tauri signer generate` wrote), built into the app; without it the app refuses every update.
# SILA_VERSION=X.Y.Z: package that version instead of the tree's (a release for HQ to publish, or
#   the update test's newer version): the bundle's version override, given to the build as
#   TAURI_CONFIG (only sila-desktop recompiles) and to the bundler as --config; the packages land
#   in $CARGO_TARGET_DIR/package-X.Y.Z/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
. .ci/lib.sh
trap stages_summary EXIT

bundles="${*:-deb rpm}"
target="$(target_dir)"
version="${SILA_VERSION:-}"
pkg="$target/package"
config='"bundle":{"externalBin":["BIN"]}'
if [ -n "$version" ]; then
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "SILA_VERSION must be MAJOR.MINOR.PATCH" >&2; exit 2; }
  export TAURI_CONFIG="{\"version\":\"$version\"}"
  pkg="$target/package-$version"
  config="\"version\":\"$version\",$config"
fi
[ -n "${SILA_UPDATE_KEY:-}" ] || echo "== SILA_UPDATE_KEY is not set: this app will refuse every update from HQ"

# The app embeds its UI at compile time: build the UI first (skipped when it is current).
stage "ui build" ui_build build dist
stage "release build${version:+ $version}" cargo build --release --locked -p sila-desktop -p sila-cli

# The bundler packages what it finds in a target folder: give it one of its own, holding copies of
# the two binaries without their line tables (the release profile keeps them for backtraces and
# profiles; symbols stay, so a crash still names its functions): 280 MB installed becomes 50.
# Cargo's own output stays as built, for the benchmarks and .ci/start.
rm -rf "$pkg"
mkdir -p "$pkg/release" "$pkg/bin"
strip --strip-debug -o "$pkg/release/sila-desktop" "$target/release/sila-desktop"
# The command line goes in through the bundler's externalBin, which wants the file named after the
# target triple and installs it as /usr/bin/sila. It is given here, at packaging time, and not in
# tauri.conf.json: tauri-build checks that every externalBin exists whenever sila-desktop compiles,
# which would make every debug build wait for a release build of the command line.
triple="$(rustc -vV | sed -n 's/^host: //p')"
strip --strip-debug -o "$pkg/bin/sila-$triple" "$target/release/sila"

# shellcheck disable=SC2086 # one word per package kind
CARGO_TARGET_DIR="$pkg" stage "bundle${version:+ $version}" ui/node_modules/.bin/tauri bundle --ci \
  --bundles ${bundles// /,} --config "{${config/BIN/$pkg/bin/sila}}"
find "$pkg/release/bundle" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' \) -printf '%s bytes  %p\n'
