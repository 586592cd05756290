#!/usr/bin/env bash
# A DNS server of our own for server-to-server work (RFC 6120 §3.2: SRV _xmpp-server._tcp),
# for local development and CI checks: `dnsmasq.sh start|stop|status|clean`. The tests start
# their own with the records each needs (test/helpers/dns.ts); this one serves a fixed file.
#
# Runs the Debian dnsmasq binary (package dnsmasq-base, installed with apt when missing; it has
# no system service) as our own process in the foreground, on 127.0.0.1, UDP and TCP port
# XMPPD_DNSMASQ_PORT (default 15353). It answers only from its records file, in dnsmasq's own
# syntax (host-record=NAME,IP / srv-host=_xmpp-server._tcp.DOMAIN,TARGET,PORT,PRIO,WEIGHT /
# cname=ALIAS,TARGET): XMPPD_DNSMASQ_RECORDS, default records.conf in its folder. It never
# forwards a query (no upstream: no-resolv, no server= line; no-hosts) and answers NXDOMAIN for
# every name it holds no record for (local=/#/). Queries are logged to dnsmasq.log in its folder
# ($XMPPD_SERVICES_DIR/dnsmasq), with its configuration and pid file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../apt.sh"
port="${XMPPD_DNSMASQ_PORT:-15353}"
dir="$services_dir/dnsmasq"
records="${XMPPD_DNSMASQ_RECORDS:-$dir/records.conf}"
pidfile="$dir/dnsmasq.pid"
marker="dnsmasq --conf-file=$dir/dnsmasq.conf"

install() {
  command -v dnsmasq > /dev/null || apt_ensure dnsmasq dnsmasq-base || exit 1
}

# An A query over TCP for xmppd-probe.invalid, answered NXDOMAIN (RCODE 3) by a server that
# holds no record for it and asks no one else.
answers() {
  local reply
  reply="$(timeout 3 bash -c '
    exec 3<> "/dev/tcp/127.0.0.1/$0"
    # length 37; id 0x7878, RD, one question: xmppd-probe.invalid IN A
    printf "\x00\x25\x78\x78\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0bxmppd-probe\x07invalid\x00\x00\x01\x00\x01" >&3
    head -c 6 <&3 | od -An -tx1' "$port" 2> /dev/null)" || return 1
  # bytes: length (2), id (2), flags (2): the low nibble of the second flags byte is the RCODE.
  [ "$(echo "$reply" | awk '{print $3 $4, substr($6, 2, 1)}')" = "7878 3" ]
}

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "dnsmasq: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  install
  mkdir -p "$dir"
  [ -f "$records" ] || printf '# Records in dnsmasq syntax, e.g.\n# host-record=example.test,127.0.0.1\n# srv-host=_xmpp-server._tcp.example.test,example.test,5269,0,0\n' > "$records"
  cat > "$dir/dnsmasq.conf" <<CONF
port=$port
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
local=/#/
cache-size=0
pid-file=
log-queries
log-facility=$dir/dnsmasq.log
conf-file=$records
CONF
  local t0=$SECONDS
  setsid dnsmasq --conf-file="$dir/dnsmasq.conf" --keep-in-foreground > "$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! wait_until "$!" "${XMPPD_DNSMASQ_TIMEOUT:-10}" answers; then
    echo "dnsmasq: did not answer on 127.0.0.1:$port; last lines of its output:" >&2
    tail -n 20 "$dir/stdout.log" "$dir/dnsmasq.log" >&2 || true
    stop_pid "$pidfile" "$marker" 5 dnsmasq > /dev/null
    exit 1
  fi
  echo "dnsmasq: $(dnsmasq --version | awk 'NR == 1 {print $3}') running on 127.0.0.1:$port with $records (pid $(cat "$pidfile"), $((SECONDS - t0))s)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && answers; then
    # dnsmasq logs "forwarded NAME to SERVER" for a query it passes on: there must be none.
    if grep -q " forwarded " "$dir/dnsmasq.log" 2> /dev/null; then echo "dnsmasq: running but it forwarded queries (see $dir/dnsmasq.log)"; return 1; fi
    echo "dnsmasq: running on 127.0.0.1:$port (pid $pid), $(grep -c ' query\[' "$dir/dnsmasq.log" || true) queries logged, none forwarded"
  else
    echo "dnsmasq: not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$pidfile" "$marker" 10 dnsmasq ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 10 dnsmasq > /dev/null; rm -rf "$dir"; echo "dnsmasq: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
