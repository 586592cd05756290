#!/usr/bin/env bash
# The whole test suite: unit tests, storage contract, integration over real sockets, and the
# Debian clients (slixmpp, nbxmpp, go-sendxmpp). Installs the Debian packages the client tests
# drive when they are missing. Called by `./run test` (which has already put Node 24 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/debian-deps.sh
results="$(mktemp -t xmppd-tests-XXXXXX.json)"
status=0
npm test -- --reporter=default --reporter=json --outputFile="$results" "$@" || status=$?
# One plain closing line, whatever the runner printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" 2>/dev/null || echo "tests: 0 passed, 1 failed"
rm -f "$results"
exit "$status"
