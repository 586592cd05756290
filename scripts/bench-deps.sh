#!/usr/bin/env bash
# The benchmark's rivals, Prosody and ejabberd, from Debian (and openssl for the shared test
# certificate; for the s2s row, dnsmasq-base, the rivals' DNS server, and lua-unbound, Prosody's
# resolver). Installs only what is missing; needs root. The benchmark runs each rival as its
# own process on ports of its own, never as the system service, so a service that the package
# started on install is stopped again with its own init script.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
# Without root the benchmark skips what is absent.
apt_ensure bench prosody ejabberd openssl dnsmasq-base lua-unbound || exit 0
if [ "$APT_INSTALLED" = 1 ]; then for service in prosody ejabberd; do apt_stop_service "$service"; done; fi
