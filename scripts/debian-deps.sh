#!/usr/bin/env bash
# Debian packages the real-client tests use, and Java with Maven for the conformance suite
# (conformance/: Smack's Integration Test Framework). Installs only what is missing; needs root (CI is).
set -euo pipefail
source "$(dirname "$0")/apt.sh"
apt_ensure debian-deps python3-slixmpp python3-nbxmpp go-sendxmpp openjdk-17-jdk-headless maven
