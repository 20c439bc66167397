#!/usr/bin/env bash
# HQ on PostgreSQL: Debian's postgresql, whose server programs (initdb, postgres) the HQ tests use
# to start a throw-away cluster of their own (crates/sila-hq/src/testing.rs). No server is set
# up or left running: Debian's own cluster, if the package made one, is not used. Idempotent.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
