#!/usr/bin/env bash
# Apache Cassandra for the scale-out tests and local development: `cassandra.sh start|stop|status|clean`.
#
# No package and no tarball: Maven resolves org.apache.cassandra:cassandra-all (the version is in
# cassandra/pom.xml) and its dependencies into ~/.m2 and writes the classpath to a file, and we
# run the server class with the machine's Java 17 on a cassandra.yaml we generate: one node on
# 127.0.0.1, native protocol on XMPPD_CASSANDRA_PORT (default 19042), internode on
# XMPPD_CASSANDRA_STORAGE_PORT (default 17000), every directory under
# $XMPPD_SERVICES_DIR/cassandra, a 1 GiB heap, no JMX, no authentication.
# `start` returns once the native port answers a CQL OPTIONS request (XMPPD_CASSANDRA_TIMEOUT,
# default 180 s); `stop` stops that process by its pid. The data is kept between starts;
# `clean` removes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
port="${XMPPD_CASSANDRA_PORT:-19042}"
storage_port="${XMPPD_CASSANDRA_STORAGE_PORT:-17000}"
dir="$services_dir/cassandra"
pidfile="$dir/cassandra.pid"
marker="org.apache.cassandra.service.CassandraDaemon"

# The classpath, resolved again when the pom changes (first run: about 100 jars, ~15 s).
classpath() {
  local cp="$dir/classpath.txt"
  if [ ! -s "$cp" ] || [ "$here/cassandra/pom.xml" -nt "$cp" ]; then
    command -v mvn > /dev/null && command -v java > /dev/null || {
      echo "cassandra: needs java (17) and mvn; install them (apt-get install openjdk-17-jdk-headless maven)" >&2; exit 1; }
    echo "cassandra: resolving cassandra-all with Maven into ~/.m2 ..." >&2
    mvn -q -B -Dstyle.color=never -f "$here/cassandra/pom.xml" dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp" >&2
  fi
  cat "$cp"
}

# One node, loopback only. Only what differs from Cassandra's defaults, plus what it requires.
write_config() {
  mkdir -p "$dir/conf" "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$dir/logs"
  cat > "$dir/conf/cassandra.yaml" <<CONF
cluster_name: xmppd
# One token, fixed: a single node owns the whole ring; start-up allocates nothing.
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
# A new cluster, so the 5.0 storage formats from the first write (no 4.x compatibility).
storage_compatibility_mode: NONE
data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage_port"
listen_address: 127.0.0.1
storage_port: $storage_port
rpc_address: 127.0.0.1
start_native_transport: true
native_transport_port: $port
# SimpleSnitch: the data centre is "datacenter1" (the driver's localDataCenter).
endpoint_snitch: SimpleSnitch
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
# Tests drop and truncate often; a snapshot before each would only fill the disk.
auto_snapshot: false
snapshot_before_compaction: false
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 8
CONF
  # Cassandra logs through logback; without a file it logs everything at DEBUG to the console.
  cat > "$dir/conf/logback.xml" <<CONF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
CONF
}

# The JVM options. Heap and stack as small as a test node allows. Cassandra 5 on Java 17 reaches
# into JDK internals (Unsafe, direct buffers, module and loader internals, JMX/RMI classes), so
# those packages are exported and opened to the unnamed module — the set Cassandra's own
# jvm17-server.options declares.
jvm_options() {
  local opts=(
    -Xms512m -Xmx1g -Xss256k -XX:MaxDirectMemorySize=512m
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxGCPauseMillis=300
    -XX:+ExitOnOutOfMemoryError -XX:+PerfDisableSharedMem
    -Djava.net.preferIPv4Stack=true
    -Djdk.attach.allowAttachSelf=true
    -Dio.netty.tryReflectionSetAccessible=true
    -Dcassandra-foreground=yes
    -Dcassandra.config="file://$dir/conf/cassandra.yaml"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.logdir="$dir/logs"
    -Dlogback.configurationFile="file://$dir/conf/logback.xml"
    # A single seed node has no peers to hear from: do not wait for gossip to settle.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
  )
  local exports=(java.base/jdk.internal.misc java.base/java.lang.ref java.sql/java.sql
    java.management.rmi/com.sun.jmx.remote.internal.rmi java.rmi/sun.rmi.registry
    java.rmi/sun.rmi.server jdk.unsupported/sun.misc jdk.compiler/com.sun.tools.javac.file
    jdk.attach/sun.tools.attach)
  local opens=(java.base/java.lang java.base/java.lang.module java.base/java.lang.reflect
    java.base/java.io java.base/java.util java.base/sun.nio.ch java.base/jdk.internal.loader
    java.base/jdk.internal.ref java.base/jdk.internal.reflect java.base/jdk.internal.math
    java.base/jdk.internal.module java.base/jdk.internal.util.jar
    jdk.management/com.sun.management.internal jdk.compiler/com.sun.tools.javac)
  local p
  for p in "${exports[@]}"; do opts+=(--add-exports "$p=ALL-UNNAMED"); done
  for p in "${opens[@]}"; do opts+=(--add-opens "$p=ALL-UNNAMED"); done
  printf '%s\n' "${opts[@]}"
}

# A CQL OPTIONS request (protocol v4: version 0x04, flags 0, stream 0, opcode 0x05, no body)
# answered by a SUPPORTED frame (version 0x84, opcode 0x06): the node serves clients.
cql_ping() {
  local reply
  reply="$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' "$port" 2> /dev/null)" || return 1
  [ "$(echo $reply)" = "84 00 00 00 06" ]
}

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "cassandra: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  local cp t0 version
  cp="$(classpath)"
  write_config
  mapfile -t opts < <(jvm_options)
  t0=$SECONDS
  : > "$dir/logs/system.log"
  setsid java "${opts[@]}" -cp "$dir/conf:$cp" org.apache.cassandra.service.CassandraDaemon \
    > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! wait_until "$!" "${XMPPD_CASSANDRA_TIMEOUT:-180}" cql_ping; then
    echo "cassandra: did not answer on 127.0.0.1:$port; last lines of $dir/logs:" >&2
    tail -n 30 "$dir/logs/stdout.log" "$dir/logs/system.log" >&2 || true
    stop_pid "$pidfile" "$marker" 20 cassandra > /dev/null
    exit 1
  fi
  version="$(grep -oE 'cassandra-all-[0-9][^/]*\.jar' <<< "$cp" | head -n 1 | sed 's/cassandra-all-//; s/\.jar//')"
  echo "cassandra: $version running on 127.0.0.1:$port (pid $(cat "$pidfile"), ready in $((SECONDS - t0))s; logs in $dir/logs)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && cql_ping; then echo "cassandra: running on 127.0.0.1:$port (pid $pid)"; else echo "cassandra: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  # Cassandra's shutdown hook flushes the commit log on TERM; a minute is plenty for a test node.
  stop) stop_pid "$pidfile" "$marker" 60 cassandra ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 60 cassandra > /dev/null; rm -rf "$dir"; echo "cassandra: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
