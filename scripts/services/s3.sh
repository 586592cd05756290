#!/usr/bin/env bash
# An S3-compatible store for the HTTP upload tests and local development: `s3.sh start|stop|status|clean`.
#
# S3Proxy (org.gaul:s3proxy from Maven Central, the same version as docker/compose.yaml's image)
# over a local folder ($XMPPD_SERVICES_DIR/s3/data, jclouds' filesystem provider), run with the
# machine's Java 17 on a loopback port of its own (XMPPD_S3_PORT, default 19000), AWS signature
# v2 or v4 with the fixed test credentials below (XMPPD_S3_ACCESS_KEY / XMPPD_S3_SECRET_KEY).
# `start` returns once the port answers HTTP; the data is kept between starts; `clean` removes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
version="2.6.0"
port="${XMPPD_S3_PORT:-19000}"
access="${XMPPD_S3_ACCESS_KEY:-xmppd-test}"
secret="${XMPPD_S3_SECRET_KEY:-xmppd-test-secret}"
dir="$services_dir/s3"
pidfile="$dir/s3proxy.pid"
marker="s3proxy-$version-jar-with-dependencies.jar"
jar="${HOME}/.m2/repository/org/gaul/s3proxy/$version/$marker"

fetch() {
  [ -s "$jar" ] && return 0
  command -v mvn > /dev/null && command -v java > /dev/null || {
    echo "s3: needs java (17) and mvn; install them (apt-get install openjdk-17-jdk-headless maven)" >&2; exit 1; }
  echo "s3: fetching S3Proxy $version from Maven Central into ~/.m2 ..." >&2
  mvn -q -B -Dstyle.color=never dependency:get -Dartifact="org.gaul:s3proxy:$version:jar:jar-with-dependencies" -Dtransitive=false >&2
}

# An HTTP request over bash's /dev/tcp (no curl on a minimal machine): any S3 answer will do.
answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && head -c 12 <&3" 2> /dev/null | grep -q '^HTTP/1'
}

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "s3: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  fetch
  mkdir -p "$dir/data"
  cat > "$dir/s3proxy.properties" <<CONF
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$access
s3proxy.credential=$secret
s3proxy.cors-allow-all=true
jclouds.provider=filesystem
jclouds.filesystem.basedir=$dir/data
CONF
  local t0=$SECONDS
  setsid java -Xmx256m -jar "$jar" --properties "$dir/s3proxy.properties" > "$dir/s3proxy.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! wait_until "$!" "${XMPPD_S3_TIMEOUT:-60}" answers; then
    echo "s3: did not answer on 127.0.0.1:$port; last lines of $dir/s3proxy.log:" >&2
    tail -n 20 "$dir/s3proxy.log" >&2 || true
    stop_pid "$pidfile" "$marker" 5 s3 > /dev/null
    exit 1
  fi
  echo "s3: S3Proxy $version running on 127.0.0.1:$port (pid $(cat "$pidfile"), $((SECONDS - t0))s; data in $dir/data)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && answers; then echo "s3: running on 127.0.0.1:$port (pid $pid)"; else echo "s3: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$pidfile" "$marker" 10 s3 ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 10 s3 > /dev/null; rm -rf "$dir"; echo "s3: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
