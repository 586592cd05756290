#!/usr/bin/env bash
# The whole test suite: unit tests, storage contract, integration over real sockets, the Debian
# clients (slixmpp, nbxmpp, go-sendxmpp), then the conformance suite (Smack's Integration Test
# Framework, conformance/run.ts), which fails on a regression of its ratchet. Installs the Debian
# packages these drive when they are missing. Called by `./run test` (which has already put Node
# 24 on PATH). With arguments (a vitest filter) only vitest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/debian-deps.sh
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
