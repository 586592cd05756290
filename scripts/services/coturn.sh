#!/usr/bin/env bash
# coturn, the STUN/TURN server calls go through, for the External Service Discovery tests
# (XEP-0215) and local development: `coturn.sh start|stop|status|clean`.
#
# Runs the Debian turnserver binary (package coturn, installed with apt when missing) as our own
# process in the foreground (no daemon mode; the pid file is ours), on a loopback port of its own
# (XMPPD_COTURN_PORT, default 13478, UDP and TCP) and a TURNS port (XMPPD_COTURN_TLS_PORT,
# default 15349, TLS over TCP) with a self-signed certificate made here, relaying on loopback
# ports XMPPD_COTURN_MIN_PORT..XMPPD_COTURN_MAX_PORT. Credentials are the TURN REST API's
# (use-auth-secret): HMAC-SHA1 of "<expiry>:<user>" under the shared secret
# XMPPD_COTURN_SECRET (default below), which the server's modules.extdisco.secret must equal.
# Its folder ($XMPPD_SERVICES_DIR/coturn) holds turnserver.conf, the certificate, its user
# database, turnserver.log and the pid file — never the system service, which stays as apt left
# it (stopped through its init script if apt started it, see install()).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../apt.sh"
port="${XMPPD_COTURN_PORT:-13478}"
tls_port="${XMPPD_COTURN_TLS_PORT:-15349}"
min_port="${XMPPD_COTURN_MIN_PORT:-49400}"
max_port="${XMPPD_COTURN_MAX_PORT:-49599}"
secret="${XMPPD_COTURN_SECRET:-xmppd-test-turn-secret}"
dir="$services_dir/coturn"
pidfile="$dir/turnserver.pid"
marker="turnserver -c $dir/turnserver.conf"

install() {
  command -v turnserver > /dev/null && command -v turnutils_stunclient > /dev/null && return 0
  apt_ensure coturn coturn || exit 1
  # The package ships a system service (disabled in /etc/default/coturn); we never use it.
  apt_stop_service coturn
}

# A STUN Binding request over UDP answered with our mapped address.
answers() { timeout 3 turnutils_stunclient -p "$port" 127.0.0.1 2> /dev/null | grep -q "UDP reflexive addr"; }

certificate() {
  [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" > /dev/null 2>&1
}

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "coturn: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  install
  mkdir -p "$dir"
  certificate
  # Loopback only. allow-loopback-peers: the tests' peers are on 127.0.0.1, which coturn
  # otherwise refuses to relay to (a production coturn must not set it). No CLI, no web admin.
  cat > "$dir/turnserver.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$port
tls-listening-port=$tls_port
min-port=$min_port
max-port=$max_port
realm=localhost
use-auth-secret
static-auth-secret=$secret
fingerprint
cert=$dir/cert.pem
pkey=$dir/key.pem
no-dtls
no-cli
no-multicast-peers
allow-loopback-peers
userdb=$dir/turndb
pidfile=$pidfile
log-file=$dir/turnserver.log
simple-log
no-stdout-log
CONF
  local t0=$SECONDS
  setsid turnserver -c "$dir/turnserver.conf" > "$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! wait_until "$!" "${XMPPD_COTURN_TIMEOUT:-20}" answers; then
    echo "coturn: did not answer on 127.0.0.1:$port; last lines of $dir/turnserver.log:" >&2
    tail -n 20 "$dir/turnserver.log" >&2 || true
    stop_pid "$pidfile" "$marker" 5 coturn > /dev/null
    exit 1
  fi
  # turnserver writes the pid file too (pidfile=): the same pid, ours being the foreground process.
  echo "coturn: $(dpkg-query -W -f='${Version}' coturn 2> /dev/null) running on 127.0.0.1:$port (TURNS $tls_port, relays $min_port-$max_port; pid $(cat "$pidfile"), $((SECONDS - t0))s)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && answers; then echo "coturn: running on 127.0.0.1:$port (pid $pid)"; else echo "coturn: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$pidfile" "$marker" 10 coturn ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 10 coturn > /dev/null; rm -rf "$dir"; echo "coturn: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
