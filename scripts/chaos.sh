#!/usr/bin/env bash
# The chaos tests (test/chaos/) alone, longer than `npm test` runs them: the server killed with
# SIGKILL CHAOS_KILLS times (20 here, 5 in `npm test`), Redis frozen and restarted, a
# network partition, and a Cassandra node stopped in a ring of three. Called by `./run chaos`
# (which has already put Node 24 on PATH); arguments go to vitest (a filter).
# Starts what they need and is not running (Redis and Cassandra of scripts/services/, and the
# ring of `cassandra.sh start --nodes 3`, about 1.5 GiB), and stops at exit only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=()
ring=no
stop_started() {
  local s
  if [ "$ring" = yes ]; then bash scripts/services/cassandra.sh stop --nodes 3 || true; fi
  for s in "${started[@]}"; do bash "scripts/services/$s.sh" stop || true; done
}
trap stop_started EXIT
for s in redis cassandra; do
  if ! bash "scripts/services/$s.sh" status > /dev/null 2>&1; then
    bash "scripts/services/$s.sh" start
    started+=("$s")
  fi
done
if ! bash scripts/services/cassandra.sh status --nodes 3 > /dev/null 2>&1; then
  ring=yes
  bash scripts/services/cassandra.sh start --nodes 3
fi
CHAOS_KILLS="${CHAOS_KILLS:-20}" npx vitest run --project chaos "$@"
