#!/usr/bin/env bash
# The Linux package test's needs on a fresh Debian machine, beyond the desktop app's
# (setup.d/30-desktop.sh: WebKitGTK, Xvfb, tauri-driver, the UI's npm packages, which include the
# Tauri CLI that packages the app): dpkg-shlibdeps (dpkg-dev), to check the package's Depends
# against the libraries its binaries load, and the freedesktop.org validator of its menu entry
# (desktop-file-utils). Idempotent.
set -euo pipefail

need=()
for pkg in dpkg-dev desktop-file-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
