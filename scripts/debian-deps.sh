#!/usr/bin/env bash
# Debian packages the real-client tests use, and Java with Maven for the conformance suite
# (conformance/: Smack's Integration Test Framework). Installs only what is missing; needs root (CI is).
set -euo pipefail
pkgs=(python3-slixmpp python3-nbxmpp go-sendxmpp openjdk-17-jdk-headless maven)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} ..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
