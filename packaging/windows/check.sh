#!/usr/bin/env bash
# Sila's Windows installer, built here (packaging/windows/build.sh) and run under Debian's Wine:
# installed silently as an update installs it (/S), the program, the menu entry "صلة" and the
# uninstall entry in place; the installed command line `sila.exe` makes a store in a Windows
# folder with a space in its name, imports a sheet from C:\, finds a person by another spelling
# and by a mobile's last digits in Arabic-Indic digits, and exports CSV and XLSX to a Windows path
# with an Arabic file name; then uninstalled silently: the program, its menu entry and its
# registry entries gone, the store left. (The desktop app itself needs Microsoft's WebView2,
# which Wine does not have: it is built, installed and started only as far as that.)
# Run by hand (not in CI: the Rust standard library for x86_64-pc-windows-gnu comes only from
# rustup's servers, which CI's machines do not reach):
#
#   rustup target add x86_64-pc-windows-gnu   # once, where rustup's servers are reachable
#   apt-get install -y gcc-mingw-w64-x86-64 nsis wine64
#   bash packaging/windows/check.sh
#
# Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard library calls for random
# bytes (ProcessPrng, Windows 10 and later): a stand-in built from bcryptprimitives.c is put beside
# the installed sila.exe for this check only. It is never packaged.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
# build.sh checks the target and its own tools; this needs Wine besides.
command -v wine >/dev/null || { echo "check: wine is missing (apt-get install wine64)" >&2; exit 2; }
fail() { echo "check: FAILED: $*" >&2; exit 1; }
installer=$(bash packaging/windows/build.sh | tail -1 | sed 's/^[0-9]* bytes  //')
[ -f "$installer" ] || fail "no installer built"
work="$(mktemp -d)"
trap 'wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all SILA_USER=admin SILA_PASSWORD='admin-pass-1234'
wineboot -i >/dev/null 2>&1 || true
drive="$WINEPREFIX/drive_c"
program="$drive/Program Files/Sila"

wine "$installer" /S
[ -f "$program/sila-desktop.exe" ] && [ -f "$program/sila.exe" ] && [ -f "$program/WebView2Loader.dll" ] &&
  [ -f "$program/uninstall.exe" ] ||
  fail "the installer put no program in C:\\Program Files\\Sila"
[ -f "$drive/ProgramData/Microsoft/Windows/Start Menu/Programs/صلة.lnk" ] || fail "no menu entry صلة"
wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sila' /v DisplayVersion |
  tr -d '\r' | grep -q "REG_SZ" || fail "no uninstall entry"
x86_64-w64-mingw32-gcc -shared -O2 -o "$program/bcryptprimitives.dll" \
  packaging/windows/bcryptprimitives.c packaging/windows/bcryptprimitives.def -ladvapi32
sila() { wine "$program/sila.exe" --data-dir 'C:\Sila Data' "$@" | tr -d '\r'; }

sila --version   # the installed command line
# The app starts as far as Wine goes: every library it links is found (the WebView2 loader
# beside it), and it stops where Microsoft's WebView2 runtime, not in Wine, is needed.
if WINEDEBUG=err+module timeout 60 wine "$program/sila-desktop.exe" 2>&1 | grep -q "import_dll"; then
  fail "sila-desktop.exe lacks a library"
fi
mkdir -p "$drive"
printf 'الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\nعبد الله محمد آل سعود,1000000008,0501234567,1975-02-10,الأفلاج\nسارة علي القحطاني,,0531112222,1988-09-01,ليلى\n' \
  >"$drive/people.csv"

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
rm "$program/bcryptprimitives.dll"
wine "$program/uninstall.exe" /S
# The uninstaller copies itself away and returns at once: wait for the copy to finish.
for _ in $(seq 1 60); do [ -e "$program" ] || break; sleep 1; done
[ ! -e "$program" ] || fail "the uninstaller left C:\\Program Files\\Sila"
[ ! -e "$drive/ProgramData/Microsoft/Windows/Start Menu/Programs/صلة.lnk" ] || fail "the menu entry stayed"
! wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sila' >/dev/null 2>&1 ||
  fail "the uninstall entry stayed"
[ -f "$drive/Sila Data/branch.sila" ] || fail "uninstalling took the store"
echo "check: Windows installer under Wine: installed (/S), sila.exe init, import, search, export on Windows paths, uninstalled (/S), store kept: ok"
