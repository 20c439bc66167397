#!/usr/bin/env bash
# The desktop app's needs on a fresh Debian machine: WebKitGTK and friends to build the Tauri
# shell, Xvfb + WebKitWebDriver + tauri-driver for its end-to-end tests, and the UI's npm packages.
# (.ci/build and .ci/start build the UI, which the app embeds at compile time.) Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

need=()
for pkg in libwebkit2gtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev libssl-dev \
           build-essential file pkg-config webkit2gtk-driver xvfb xauth; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --version '^2' --locked
fi

cd ui
# npm ci installs exactly the lock; skip it when node_modules already matches the lock.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.sila-lock; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.sila-lock
fi
