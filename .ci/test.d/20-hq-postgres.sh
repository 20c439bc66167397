#!/usr/bin/env bash
# Every HQ test again, on PostgreSQL: the sila-hq tests (rules, storage, HTTP, console) and the
# sync end-to-end suite (tests/it: fault proxy, kills at commit points, clock skew, seeded
# convergence, several servers), the same suite `cargo test` ran on SQLite, with
# SILA_TEST_DB=postgres. The test binaries of .ci/build are run directly, from their package's
# folder as cargo test runs them; they use the cluster .ci/services.d/50-postgres.sh started
# (SILA_TEST_PG), or, run on their own, start a throw-away cluster of their own.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
. .ci/lib.sh
cargo_env >/dev/null

bins=$(cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    if not m.get("profile", {}).get("test"):
        continue
    pkg = m["package_id"]
    if "sila-hq" in pkg or "sila-e2e" in pkg:
        print(m["manifest_path"].rsplit("/", 1)[0] + "\t" + m["executable"])
')
[ -n "$bins" ] || { echo "20-hq-postgres: no HQ test binary found" >&2; exit 1; }
while IFS=$'\t' read -r dir b; do
  echo "== SILA_TEST_DB=postgres ${b##*/}"
  (cd "$dir" && SILA_TEST_DB=postgres "$b")
done <<<"$bins"
