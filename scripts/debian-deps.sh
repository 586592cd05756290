#!/usr/bin/env bash
# Debian packages the real-client tests use (Chromium runs Converse.js), coturn (its turnserver
# for scripts/services/coturn.sh, its turnutils_uclient for the XEP-0215 tests), Prosody and
# ejabberd (below), Java with Maven for the conformance suite (conformance/: Smack's Integration
# Test Framework), the checkers of docker/ (haproxy -c, docker-compose config, promtool check
# config), and the Prometheus project's own text-format parser and linter for the metrics tests
# (python3-prometheus-client, promtool from prometheus), and for the federation peers
# (test/helpers/peers.ts) dnsmasq-base, the test DNS server, and lua-unbound, Prosody's resolver
# library, which can be pointed at it; pebble, Let's Encrypt's ACME test server, which the ACME
# client's tests get certificates from (test/helpers/pebble.ts). Installs only what is missing;
# needs root (CI is).
set -euo pipefail
source "$(dirname "$0")/apt.sh"
apt_ensure debian-deps python3-slixmpp python3-nbxmpp go-sendxmpp coturn chromium openjdk-17-jdk-headless maven haproxy docker-compose python3-prometheus-client prometheus dnsmasq-base lua-unbound pebble
# haproxy and docker-compose only check docker/ (test/docker.test.ts); the service the package may start is not ours.
apt_stop_service haproxy
# Nor is coturn's system service: scripts/services/coturn.sh runs our own turnserver.
apt_stop_service coturn
# prometheus only for promtool; its own server is not ours either.
apt_stop_service prometheus
# Prosody and ejabberd: the servers users migrate from (test/interop/pie.test.ts runs their XEP-0227
# exporters) and the benchmark's rivals; bench-deps.sh stops the services their packages start.
bash "$(dirname "$0")/bench-deps.sh"
