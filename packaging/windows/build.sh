#!/usr/bin/env bash
# Sila's Windows installer, cross-built on Debian: the desktop app and the command line for
# x86_64-pc-windows-gnu (MinGW-w64), stripped, in an NSIS installer made by Debian's makensis
# (packaging/windows/sila.nsi). Prints the installer's path last.
#
#   rustup target add x86_64-pc-windows-gnu   # once, where rustup's servers are reachable
#   apt-get install -y gcc-mingw-w64-x86-64 nsis
#   bash packaging/windows/build.sh           # SILA_VERSION=X.Y.Z for another version
#
# Not in CI: the Rust standard library for that target comes only from rustup's servers, which
# CI's machines do not reach. SILA_UPDATE_KEY is built in as for the Linux packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
. .ci/lib.sh
target=x86_64-pc-windows-gnu
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
  { echo "windows/build: the $target standard library is not installed (rustup target add $target)" >&2; exit 2; }
for tool in x86_64-w64-mingw32-gcc x86_64-w64-mingw32-strip makensis; do
  command -v "$tool" >/dev/null || { echo "windows/build: $tool is missing (apt-get install gcc-mingw-w64-x86-64 nsis)" >&2; exit 2; }
done
version="${SILA_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "windows/build: no version (SILA_VERSION=X.Y.Z)" >&2; exit 2; }
[ -z "${SILA_VERSION:-}" ] || export TAURI_CONFIG="{\"version\":\"$version\"}"
python3 packaging/windows/make-ico.py >/dev/null
ui_build build dist
cargo build --release --locked --target "$target" -p sila-desktop -p sila-cli
built="$(target_dir)/$target/release"
out="$(target_dir)/package-windows"
rm -rf "$out" && mkdir -p "$out"
# Without their line tables, as the Linux packages (symbols stay).
x86_64-w64-mingw32-strip --strip-debug -o "$out/sila-desktop.exe" "$built/sila-desktop.exe"
x86_64-w64-mingw32-strip --strip-debug -o "$out/sila-cli.exe" "$built/sila.exe"
# A MinGW build of the app loads Microsoft's WebView2 loader at run time (the build script of
# webview2-com-sys puts it beside the binary); the installer ships it beside the app.
cp "$built/WebView2Loader.dll" "$out/"
installer="$out/Sila_${version}_x64-setup.exe"
makensis -V2 -DVERSION="$version" -DAPP="$out/sila-desktop.exe" -DCLI="$out/sila-cli.exe" \
  -DLOADER="$out/WebView2Loader.dll" \
  -DICON="$PWD/src-tauri/icons/icon.ico" -DOUTFILE="$installer" packaging/windows/sila.nsi
printf '%s bytes  %s\n' "$(stat -c %s "$installer")" "$installer"
