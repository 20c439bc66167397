#!/usr/bin/env bash
# The Windows command line, built here and run under Debian's Wine: `sila.exe` makes a store in a
# Windows folder with a space in its name, imports a sheet from C:\, finds a person by another
# spelling and by a mobile's last digits in Arabic-Indic digits, and exports CSV and XLSX to a
# Windows path with an Arabic file name. Run by hand (not in CI: the Rust standard library for
# x86_64-pc-windows-gnu comes only from rustup's servers, which CI's machines do not reach):
#
#   rustup target add x86_64-pc-windows-gnu   # once, where rustup's servers are reachable
#   apt-get install -y gcc-mingw-w64-x86-64 wine64
#   bash packaging/windows/check-cli.sh
#
# Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard library calls for random
# bytes (ProcessPrng, Windows 10 and later): a stand-in built from bcryptprimitives.c is put beside
# sila.exe for this check only. It is never packaged.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
target=x86_64-pc-windows-gnu
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
  { echo "check-cli: the $target standard library is not installed (rustup target add $target)" >&2; exit 2; }
for tool in x86_64-w64-mingw32-gcc wine; do
  command -v "$tool" >/dev/null || { echo "check-cli: $tool is missing (apt-get install gcc-mingw-w64-x86-64 wine64)" >&2; exit 2; }
done
cargo build --release --locked --target "$target" -p sila-cli
out="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/$target/release"
work="$(mktemp -d)"
trap 'wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$out/sila.exe" "$work/"
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
  packaging/windows/bcryptprimitives.c packaging/windows/bcryptprimitives.def -ladvapi32
export WINEPREFIX="$work/prefix" WINEDEBUG=-all SILA_USER=admin SILA_PASSWORD='admin-pass-1234'
sila() { wine "$work/sila.exe" --data-dir 'C:\Sila Data' "$@" | tr -d '\r'; }
fail() { echo "check-cli: FAILED: $*" >&2; exit 1; }

wine "$work/sila.exe" --version | tr -d '\r'   # also makes the Wine prefix
mkdir -p "$WINEPREFIX/drive_c"
printf 'الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\nعبد الله محمد آل سعود,1000000008,0501234567,1975-02-10,الأفلاج\nسارة علي القحطاني,,0531112222,1988-09-01,ليلى\n' \
  >"$WINEPREFIX/drive_c/people.csv"

sila init --branch "الأفلاج"
[ -f "$WINEPREFIX/drive_c/Sila Data/branch.sila" ] || fail "init made no store in C:\\Sila Data"
imported=$(sila import 'C:\people.csv' --json)
echo "$imported"
[[ "$imported" == *'"imported":2'* ]] || fail "import"
found=$(sila search "عبدالله ال سعود" --json)
[[ "$found" == *'"national_id":"1000000008"'* ]] || fail "search by another spelling"
found=$(sila search "٤٥٦٧" --json)
[[ "$found" == *'"national_id":"1000000008"'* ]] || fail "search by the mobile's last digits"
docs="$WINEPREFIX/drive_c/users/Public/Documents"
sila export --format csv --out 'C:\Users\Public\Documents\المستفيدون.csv'
sila export --format xlsx --out 'C:\Users\Public\Documents\المستفيدون.xlsx'
grep -q "0501234567" "$docs/المستفيدون.csv" || fail "the CSV export lacks the mobile in its national form"
[ "$(head -c 2 "$docs/المستفيدون.xlsx")" = "PK" ] || fail "the XLSX export is not a workbook"
echo "check-cli: sila.exe under Wine: init, import, search, export on Windows paths: ok"
