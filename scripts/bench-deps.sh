#!/usr/bin/env bash
# The benchmark's rivals, Prosody and ejabberd, from Debian (and openssl for the shared test
# certificate). Installs only what is missing; needs root. The benchmark runs each rival as its
# own process on ports of its own, never as the system service, so a service that the package
# started on install is stopped again with its own init script.
set -euo pipefail
pkgs=(prosody ejabberd openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages ${missing[*]}; the benchmark skips what is absent (as root: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "installing ${missing[*]} ..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for service in prosody ejabberd; do
  if [ -x "/etc/init.d/$service" ] && "/etc/init.d/$service" status >/dev/null 2>&1; then
    echo "stopping the $service system service that the package started" >&2
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
done
