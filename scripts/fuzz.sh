#!/usr/bin/env bash
# Fuzzing, bounded in time; called by `./run fuzz [target] [seconds]`.
#   target   a coverage-guided target of test/fuzz/targets/ (parser, scram, jid, der, payload: each
#            runs `seconds`, 60 by default, from the corpus in test/fuzz/corpus/ and .fuzz/corpus/);
#            "properties": the fast-check property tests (src/**/*.fuzz.test.ts) at FUZZ_SCALE
#            times the runs `npm test` gives them (20 by default: about a minute on two cores);
#            "sockets": the fuzzing over sockets (test/integration/fuzz.test.ts, the client listener;
#            fuzz-s2s.test.ts, the federation listener; fuzz-component.test.ts, the component
#            listener; fuzz-bosh.test.ts, BOSH) at the same scale;
#            "all" (the default): each of these in turn.
# A finding fails the run: its input is in .fuzz/crashes/ (replay it with
# `node test/fuzz/run.ts TARGET --replay FILE`), or fast-check prints its seed (FUZZ_SEED replays it).
# A target still running past `seconds` + 2 minutes hangs: the input it was on is .fuzz/current-TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-all}"
seconds="${2:-60}"
case "$seconds" in '' | *[!0-9]*) echo "seconds must be a whole number, not '$seconds'" >&2; exit 2 ;; esac
export FUZZ_SCALE="${FUZZ_SCALE:-20}"
status=0

coverage() {
  local rc=0
  timeout --signal=KILL "$((seconds + 120))" node test/fuzz/run.ts "$1" "$seconds" || rc=$?
  if [ "$rc" = 137 ]; then echo "$1: no answer past the time given; the input it was on: .fuzz/current-$1" >&2; fi
  [ "$rc" = 0 ] || status=1
}
properties() {
  # shellcheck disable=SC2046 # one argument per file
  npx vitest run --testTimeout=3600000 $(find src -name '*.fuzz.test.ts' | sort) || status=1
}
sockets() {
  npx vitest run --testTimeout=3600000 test/integration/fuzz.test.ts test/integration/fuzz-s2s.test.ts test/integration/fuzz-component.test.ts test/integration/fuzz-bosh.test.ts || status=1
}

targets="$(find test/fuzz/targets -name '*.ts' -exec basename {} .ts \; | sort)"
case "$target" in
  all)
    for t in $targets; do coverage "$t"; done
    properties
    sockets ;;
  properties) properties ;;
  sockets) sockets ;;
  *)
    if ! printf '%s\n' $targets | grep -qx "$target"; then
      echo "no fuzz target '$target': $(echo $targets) properties sockets all" >&2
      exit 2
    fi
    coverage "$target" ;;
esac
exit "$status"
