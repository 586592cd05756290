#!/usr/bin/env bash
# Redis for the scale-out tests and local development: `redis.sh start|stop|status|clean`.
#
# Runs the Debian redis-server binary (installed with apt when missing) as our own process, on a
# loopback port of its own (XMPPD_REDIS_PORT, default 16379) with its own folder
# ($XMPPD_SERVICES_DIR/redis: redis.conf, data, log, pid) — never the system service, which
# stays as apt left it (stopped through its init script if apt started it, see install()).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../apt.sh"
port="${XMPPD_REDIS_PORT:-16379}"
dir="$services_dir/redis"
pidfile="$dir/redis.pid"
marker="redis-server 127.0.0.1:$port"

install() {
  command -v redis-server > /dev/null && return 0
  apt_ensure redis redis-server || exit 1
  # On a machine with an init system, the package starts redis on 6379 as a system service. We
  # never use it (our own process serves our port): it is stopped, not disabled or removed.
  apt_stop_service redis-server
}

ping() { redis-cli -h 127.0.0.1 -p "$port" ping 2> /dev/null | grep -q PONG; }

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "redis: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  install
  mkdir -p "$dir/data"
  # Loopback only, no disk persistence (a test and development instance; a production Redis
  # holds sessions and presence, which are rebuilt when clients reconnect).
  cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
protected-mode yes
daemonize no
dir $dir/data
logfile $dir/redis.log
save ""
appendonly no
CONF
  local t0=$SECONDS
  setsid redis-server "$dir/redis.conf" > /dev/null 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! wait_until "$!" "${XMPPD_REDIS_TIMEOUT:-20}" ping; then
    echo "redis: did not answer on 127.0.0.1:$port; last lines of $dir/redis.log:" >&2
    tail -n 20 "$dir/redis.log" >&2 || true
    stop_pid "$pidfile" "$marker" 5 redis > /dev/null
    exit 1
  fi
  echo "redis: $(redis-server --version | awk '{sub("v=", "", $3); print $3}') running on 127.0.0.1:$port (pid $(cat "$pidfile"), $((SECONDS - t0))s)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && ping; then echo "redis: running on 127.0.0.1:$port (pid $pid)"; else echo "redis: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$pidfile" "$marker" 10 redis ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 10 redis > /dev/null; rm -rf "$dir"; echo "redis: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
