# Shared by the service scripts (redis.sh, cassandra.sh): where a service keeps its files, and
# starting / stopping it as our own process by PID. Source it; it defines functions only.
#
# State lives in $XMPPD_SERVICES_DIR (default: .data/services in the checkout), one folder per
# service: its generated configuration, data, log and pid file. Nothing here is a system service.

services_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
services_dir="${XMPPD_SERVICES_DIR:-$services_root/.data/services}"

# The pid in a pid file when that process is alive and its command line contains $2 (so a pid
# reused by an unrelated process after a crash is never signalled); empty otherwise.
live_pid() {
  local file="$1" marker="$2" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker" && echo "$pid"
  return 0
}

# Stops the process of a pid file: TERM, then KILL after $3 seconds. Removes the pid file.
stop_pid() {
  local file="$1" marker="$2" grace="$3" name="$4" pid i
  pid="$(live_pid "$file" "$marker")"
  if [ -z "$pid" ]; then
    echo "$name: not running"
    rm -f "$file"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    echo "$name: still running after ${grace}s, sending KILL to $pid" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
  echo "$name: stopped (pid $pid)"
}

# Waits until `$2...` (a probe command) succeeds, the process of pid $1 dies, or $timeout
# seconds pass. Returns 0 when the probe succeeded.
wait_until() {
  local pid="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    "$@" && return 0
    [ -d "/proc/$pid" ] || return 1
    sleep 0.5
  done
  return 1
}
