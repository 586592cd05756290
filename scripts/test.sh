#!/usr/bin/env bash
# The whole test suite: unit tests, storage contract, integration over real sockets, the Debian
# clients (slixmpp, nbxmpp, go-sendxmpp), then the conformance suite (Smack's Integration Test
# Framework, conformance/run.ts), which fails on a regression of its ratchet. Installs the Debian
# packages these drive when they are missing. Called by `./run test` (which has already put Node
# 24 on PATH). With arguments (a vitest filter) only vitest runs.
# Redis, Cassandra and S3Proxy (scripts/services/) are started before vitest for the scale-out
# backends' tests, and coturn for the calls' (XEP-0215), and stopped at exit — only those this script started; XMPPD_SERVICES=none skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/debian-deps.sh
started=()
stop_services() {
  local s
  for s in "${started[@]}"; do bash "scripts/services/$s.sh" stop || true; done
}
trap stop_services EXIT
if [ "${XMPPD_SERVICES:-}" != none ]; then
  for s in redis cassandra s3 coturn; do
    if bash "scripts/services/$s.sh" status > /dev/null 2>&1; then
      echo "$s: already running, left running after the tests"
    elif bash "scripts/services/$s.sh" start; then
      started+=("$s")
    else
      # Not fatal here: its tests then fail in CI (test/helpers/services.ts) and say why.
      echo "$s: did not start; its tests will fail in CI and be skipped elsewhere" >&2
    fi
  done
fi
results="$(mktemp -t xmppd-tests-XXXXXX.json)"
status=0
npm test -- --reporter=default --reporter=json --outputFile="$results" "$@" || status=$?
conformance="conformance: not run (a vitest filter was given)"
if [ $# -eq 0 ]; then
  if node conformance/run.ts; then conformance="conformance: no regression"; else conformance="conformance: FAILED (see above)"; status=1; fi
fi
echo "$conformance"
# One plain closing line, whatever the runner printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" 2>/dev/null || echo "tests: 0 passed, 1 failed"
rm -f "$results"
exit "$status"
