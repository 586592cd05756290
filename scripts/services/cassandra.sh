#!/usr/bin/env bash
# Apache Cassandra for the scale-out tests and local development:
# `cassandra.sh start|stop|status|clean [--nodes N]`.
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
#
# `--nodes N` (2 to 9) is another Cassandra: a ring of N nodes for the chaos tests (a node stopped
# under replication 3 at LOCAL_QUORUM), node i on 127.0.0.(i+1), every one a seed with a fixed
# token (so they start together, none bootstraps), the same ports on each address, a 512 MiB heap
# each (XMPPD_CASSANDRA_RING_HEAP), its files under $XMPPD_SERVICES_DIR/cassandra-ring/node<i>.
# `start` starts the nodes that are not running and returns once each answers (timeout 600 s); a
# test stops one by its pid file and starts it again the same way.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
port="${XMPPD_CASSANDRA_PORT:-19042}"
storage_port="${XMPPD_CASSANDRA_STORAGE_PORT:-17000}"
dir="$services_dir/cassandra"
pidfile="$dir/cassandra.pid"
marker="org.apache.cassandra.service.CassandraDaemon"
# What makes one node (the single one by default; ring() sets them for node i of a ring).
cp_dir="$dir"
addr=127.0.0.1
seeds="127.0.0.1:$storage_port"
cluster=xmppd
token=0
heap=(-Xms512m -Xmx1g -XX:MaxDirectMemorySize=512m)
name=cassandra

# The classpath, resolved again when the pom changes (first run: about 100 jars, ~15 s).
classpath() {
  local cp="$cp_dir/classpath.txt"
  if [ ! -s "$cp" ] || [ "$here/cassandra/pom.xml" -nt "$cp" ]; then
    command -v mvn > /dev/null && command -v java > /dev/null || {
      echo "$name: needs java (17) and mvn; install them (apt-get install openjdk-17-jdk-headless maven)" >&2; exit 1; }
    mkdir -p "$cp_dir"
    echo "$name: resolving cassandra-all with Maven into ~/.m2 ..." >&2
    mvn -q -B -Dstyle.color=never -f "$here/cassandra/pom.xml" dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp" >&2
  fi
  cat "$cp"
}

# One node, loopback only. Only what differs from Cassandra's defaults, plus what it requires.
write_config() {
  mkdir -p "$dir/conf" "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$dir/logs"
  cat > "$dir/conf/cassandra.yaml" <<CONF
cluster_name: $cluster
# One token, fixed: a single node owns the whole ring (a ring's nodes a third each); start-up allocates nothing.
num_tokens: 1
initial_token: $token
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
      - seeds: "$seeds"
listen_address: $addr
storage_port: $storage_port
rpc_address: $addr
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
  # A ring's nodes are all seeds with fixed tokens: each starts as it is, none streams data in.
  if [ "$cluster" != xmppd ]; then
    cat >> "$dir/conf/cassandra.yaml" <<CONF
auto_bootstrap: false
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
CONF
  fi
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
    "${heap[@]}" -Xss256k
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
    exec 3<>"/dev/tcp/$1/$0" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' "$port" "$addr" 2> /dev/null)" || return 1
  [ "$(echo $reply)" = "84 00 00 00 06" ]
}

start() {
  if [ -n "$(live_pid "$pidfile" "$marker")" ]; then
    echo "$name: already running on $addr:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  launch
  await_node "${XMPPD_CASSANDRA_TIMEOUT:-180}"
}

# Starts the node's process in the background; await_node waits for it.
launch() {
  local cp
  cp="$(classpath)"
  write_config
  mapfile -t opts < <(jvm_options)
  t0=$SECONDS
  : > "$dir/logs/system.log"
  setsid java "${opts[@]}" -cp "$dir/conf:$cp" org.apache.cassandra.service.CassandraDaemon \
    > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

await_node() {
  local version cp
  if ! wait_until "$(cat "$pidfile")" "$1" cql_ping; then
    echo "$name: did not answer on $addr:$port; last lines of $dir/logs:" >&2
    tail -n 30 "$dir/logs/stdout.log" "$dir/logs/system.log" >&2 || true
    stop_pid "$pidfile" "$marker" 20 "$name" > /dev/null
    return 1
  fi
  cp="$(cat "$cp_dir/classpath.txt")"
  version="$(grep -oE 'cassandra-all-[0-9][^/]*\.jar' <<< "$cp" | head -n 1 | sed 's/cassandra-all-//; s/\.jar//')"
  echo "$name: $version running on $addr:$port (pid $(cat "$pidfile"), ready in $((SECONDS - t0))s; logs in $dir/logs)"
}

status() {
  local pid; pid="$(live_pid "$pidfile" "$marker")"
  if [ -n "$pid" ] && cql_ping; then echo "$name: running on $addr:$port (pid $pid)"; else echo "$name: not running"; return 1; fi
}

# Node i (1-based) of a ring of $1 nodes: its address, folder, token (Murmur3, evenly spaced).
ring() {
  local n="$1" i="$2" j seed_list=""
  for ((j = 1; j <= n; j++)); do seed_list+="${seed_list:+,}127.0.0.$((j + 1)):$storage_port"; done
  cp_dir="$services_dir/cassandra-ring"
  dir="$cp_dir/node$i"
  pidfile="$dir/cassandra.pid"
  marker="$dir/conf/cassandra.yaml"
  addr="127.0.0.$((i + 1))"
  seeds="$seed_list"
  cluster=xmppd-ring
  heap=(-Xms256m "-Xmx${XMPPD_CASSANDRA_RING_HEAP:-512m}" -XX:MaxDirectMemorySize=256m)
  name="cassandra ring node $i"
  # -2^63 + (i-1) * 2^64/n, added step by step so that bash's 64-bit arithmetic never overflows.
  local step=$(((9223372036854775807 / n) * 2)) k
  token=$((-9223372036854775807 - 1))
  for ((k = 1; k < i; k++)); do token=$((token + step)); done
}

# The ring: every node not running is started at once, then each is waited for.
ring_do() {
  local cmd="$1" n="$2" i failed=0
  [[ "$n" =~ ^[2-9]$ ]] || { echo "cassandra: --nodes takes 2 to 9" >&2; exit 2; }
  case "$cmd" in
    start)
      local starting=()
      for ((i = 1; i <= n; i++)); do
        ring "$n" "$i"
        if [ -n "$(live_pid "$pidfile" "$marker")" ]; then echo "$name: already running on $addr:$port (pid $(cat "$pidfile"))"
        else launch; starting+=("$i"); fi
      done
      for i in "${starting[@]}"; do ring "$n" "$i"; await_node "${XMPPD_CASSANDRA_TIMEOUT:-600}" || failed=1; done
      ;;
    stop) for ((i = 1; i <= n; i++)); do ring "$n" "$i"; stop_pid "$pidfile" "$marker" 60 "$name"; done ;;
    status) for ((i = 1; i <= n; i++)); do ring "$n" "$i"; status || failed=1; done ;;
    clean)
      for ((i = 1; i <= n; i++)); do ring "$n" "$i"; stop_pid "$pidfile" "$marker" 60 "$name" > /dev/null; done
      rm -rf "$services_dir/cassandra-ring"; echo "cassandra: removed $services_dir/cassandra-ring" ;;
    *) echo "usage: $0 start|stop|status|clean [--nodes N]" >&2; exit 2 ;;
  esac
  return "$failed"
}

if [ "${2:-}" = --nodes ]; then
  ring_do "${1:-}" "${3:-}"
  exit $?
fi

case "${1:-}" in
  start) start || exit 1 ;;
  # Cassandra's shutdown hook flushes the commit log on TERM; a minute is plenty for a test node.
  stop) stop_pid "$pidfile" "$marker" 60 cassandra ;;
  status) status ;;
  clean) stop_pid "$pidfile" "$marker" 60 cassandra > /dev/null; rm -rf "$dir"; echo "cassandra: removed $dir" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
