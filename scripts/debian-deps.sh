#!/usr/bin/env bash
# Debian packages the real-client tests use (Chromium runs Converse.js), coturn (its turnserver
# for scripts/services/coturn.sh, its turnutils_uclient for the XEP-0215 tests), Java with Maven
# for the conformance suite (conformance/: Smack's Integration Test Framework), and the checkers
# of docker/ (haproxy -c, docker-compose config). Installs only what is missing; needs root (CI is).
set -euo pipefail
source "$(dirname "$0")/apt.sh"
apt_ensure debian-deps python3-slixmpp python3-nbxmpp go-sendxmpp coturn chromium openjdk-17-jdk-headless maven haproxy docker-compose
# haproxy and docker-compose only check docker/ (test/docker.test.ts); the service the package may start is not ours.
apt_stop_service haproxy
# Nor is coturn's system service: scripts/services/coturn.sh runs our own turnserver.
apt_stop_service coturn
