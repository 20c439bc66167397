# Sourced by .ci/test: a throw-away PostgreSQL cluster for this run's HQ tests on PostgreSQL
# (.ci/test.d/20-hq-postgres.sh), so the test binaries share one server instead of each starting
# its own (crates/sila-hq/src/testing.rs does that when SILA_TEST_PG is not set). initdb in a
# temporary folder, run as an unprivileged user (`postgres`, else `nobody`, when the run is root:
# PostgreSQL refuses to run as root), listening on a unix socket in that folder only, with
# durability off (a test cluster is thrown away); stopped and removed when the run ends.
# Exports SILA_TEST_PG, the URL of its maintenance database; each test makes its own database.

sila_pg_bin=""
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  sila_pg_bin="$(dirname "$(command -v initdb)")"
else
  sila_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
[ -n "$sila_pg_bin" ] && [ -x "$sila_pg_bin/initdb" ] || {
  echo "50-postgres: PostgreSQL's server programs are missing (bash .ci/setup installs them)" >&2
  return 1
}
sila_pg_dir="$(mktemp -d /tmp/sila-pg-ci.XXXXXX)"
sila_pg_as=()
if [ "$(id -u)" = 0 ]; then
  sila_pg_user=postgres
  id -u postgres >/dev/null 2>&1 || sila_pg_user=nobody
  chown "$sila_pg_user" "$sila_pg_dir"
  sila_pg_as=(runuser -u "$sila_pg_user" --)
fi
"${sila_pg_as[@]}" "$sila_pg_bin/initdb" -D "$sila_pg_dir/data" -U sila --auth=trust \
  -E UTF8 --no-locale --no-sync >"$sila_pg_dir/initdb.log" 2>&1 || {
  cat "$sila_pg_dir/initdb.log" >&2
  return 1
}
# -w waits until the server accepts connections (or fails), no sleeping.
"${sila_pg_as[@]}" "$sila_pg_bin/pg_ctl" -D "$sila_pg_dir/data" -l "$sila_pg_dir/log" -w \
  -o "-k $sila_pg_dir -c listen_addresses= -c port=5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB" \
  start >/dev/null || {
  cat "$sila_pg_dir/log" >&2
  return 1
}
on_exit "${sila_pg_as[*]} $sila_pg_bin/pg_ctl -D $sila_pg_dir/data -m fast -w stop >/dev/null; rm -rf $sila_pg_dir"
export SILA_TEST_PG="postgres://sila@${sila_pg_dir//\//%2F}:5432/postgres"
echo "== PostgreSQL for the HQ tests: $("$sila_pg_bin/postgres" --version), socket in $sila_pg_dir"
