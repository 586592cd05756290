#!/usr/bin/env bash
# The whole test suite: unit tests, storage contract, integration over real sockets, and the
# Debian clients (slixmpp, nbxmpp). Installs the Debian packages the client tests drive when
# they are missing. Called by `./run test` (which has already put Node 24 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/debian-deps.sh
exec npm test
