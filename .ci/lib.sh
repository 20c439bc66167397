# Shared by .ci/test, .ci/build and the test.d scripts (sourced, not run).

# stage NAME COMMAND…: runs COMMAND as one named stage of the run, printing how long it took;
# `stages_summary` prints every stage's time at the end (called on exit, failure included).
SILA_STAGES=()
stage() {
  local name="$1"
  shift
  echo "== $name"
  local start=$SECONDS status=0
  "$@" || status=$?
  local took=$((SECONDS - start))
  SILA_STAGES+=("$(printf '%-28s %3dm%02ds%s' "$name" $((took / 60)) $((took % 60)) \
    "$([ "$status" -eq 0 ] || echo "  FAILED ($status)")")")
  echo "== $name: $((took / 60))m$(printf '%02d' $((took % 60)))s"
  return "$status"
}

stages_summary() {
  [ ${#SILA_STAGES[@]} -gt 0 ] || return 0
  echo "== stages"
  printf '   %s\n' "${SILA_STAGES[@]}"
  printf '   %-28s %3dm%02ds\n' "total" $((SECONDS / 60)) $((SECONDS % 60))
}

# The binaries the suites run, as `.ci/build` leaves them.
target_dir() {
  echo "${CARGO_TARGET_DIR:-$PWD/target}"
}

# on_exit COMMAND: run COMMAND when the script ends, however it ends (last registered, first run),
# before the stage summary. Services started for a run (.ci/services.d/) stop this way.
SILA_ON_EXIT=()
on_exit() {
  SILA_ON_EXIT=("$*" "${SILA_ON_EXIT[@]}")
}
run_on_exit() {
  local status=$?
  local c
  for c in "${SILA_ON_EXIT[@]}"; do
    eval "$c" || true
  done
  stages_summary
  return "$status"
}

# How every cargo command of a run builds; .ci/build and every later cargo command of the run
# must agree on it, or cargo compiles again:
# - the workspace's own crates are compiled through clippy-driver, warnings as errors (see
#   .ci/clippy-rustc), when the toolchain has clippy;
# - in CI (CI=true: a fresh clone, built once), no incremental caches (nothing is rebuilt to use
#   them) and line tables only as debug information (backtraces keep files and lines): less to
#   compile, link and keep on disk.
cargo_env() {
  if clippy-driver --version >/dev/null 2>&1; then
    export RUSTC_WORKSPACE_WRAPPER="$PWD/.ci/clippy-rustc"
  else
    unset RUSTC_WORKSPACE_WRAPPER
    echo "== clippy is not installed with this toolchain: lints skipped"
  fi
  if [ "${CI:-}" = "true" ]; then
    export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only
  fi
}

# ui_build SCRIPT DIR: `npm run SCRIPT` in ui/ (type check and build into ui/DIR), unless ui/DIR
# was built from the UI's sources as they are. A build rewrites every file, and the desktop app
# and sila-hq embed their UI at compile time: rebuilding an unchanged UI would recompile both.
ui_build() {
  local script="$1" dir="ui/$2"
  local stamp
  stamp="$(target_dir)/ui-$2.built"
  if [ -f "$stamp" ] && [ -d "$dir" ] &&
    [ -z "$(find ui/src ui/*.html ui/*.ts ui/*.json -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$stamp")"
  touch "$stamp.new"
  (cd ui && npm run "$script" --silent)
  mv "$stamp.new" "$stamp"
}
