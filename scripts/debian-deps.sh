#!/usr/bin/env bash
# Debian packages the real-client tests use (Chromium runs Converse.js), Prosody and ejabberd
# (below), Java with Maven for the conformance suite (conformance/: Smack's Integration Test
# Framework), and the checkers of docker/ (haproxy -c, docker-compose config). Installs only what
# is missing; needs root (CI is).
set -euo pipefail
source "$(dirname "$0")/apt.sh"
apt_ensure debian-deps python3-slixmpp python3-nbxmpp go-sendxmpp chromium openjdk-17-jdk-headless maven haproxy docker-compose
# haproxy and docker-compose only check docker/ (test/docker.test.ts); the service the package may start is not ours.
apt_stop_service haproxy
# Prosody and ejabberd: the servers users migrate from (test/interop/pie.test.ts runs their XEP-0227
# exporters) and the benchmark's rivals; bench-deps.sh stops the services their packages start.
bash "$(dirname "$0")/bench-deps.sh"
