#!/usr/bin/env bash
# A private RabbitMQ cluster on loopback for tests and local runs: N nodes
# (default 3), each a scripts/broker.sh node in DIR/n<I> with its own node
# name, AMQP and distribution ports, sharing one private epmd and one Erlang
# cookie, clustered through RabbitMQ's classic-config peer discovery.
#
#   scripts/cluster.sh start DIR [N]     start N nodes as one cluster and wait until all run
#   scripts/cluster.sh kill DIR I        kill -9 node I (1-based); it stays down
#   scripts/cluster.sh restart DIR I     bring node I back (same name, ports, data); wait until it runs
#   scripts/cluster.sh stop DIR          stop every node
#   scripts/cluster.sh ctl DIR I ARGS... rabbitmqctl against node I
#   scripts/cluster.sh leader DIR QUEUE  the number I of the node leading quorum queue QUEUE
#
# After start, DIR/env holds shell lines to source:
#   export PAPERQ_BROKER_URL=amqp://guest:guest@127.0.0.1:P1/,amqp://...:P2/,...
#   export PQ_CLUSTER_NODES=N PQ_CLUSTER_DIR=DIR PQ_CLUSTER_NODE_NAMES="name1 name2 ..."
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BROKER_SH="$HERE/broker.sh"
JOIN_TIMEOUT=${PQ_CLUSTER_JOIN_TIMEOUT:-120}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

now() {
  date +%s.%N
}

elapsed() {
  awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

load_cluster() {
  [[ -f "$DIR/cluster.conf" ]] || die "$DIR has no cluster.conf: was the cluster started with 'scripts/cluster.sh start $DIR'?"
  # shellcheck source=/dev/null
  . "$DIR/cluster.conf"
}

node_dir() {
  echo "$DIR/n$1"
}

node_conf() { # I KEY
  (
    # shellcheck source=/dev/null
    . "$(node_dir "$1")/broker.conf"
    eval "echo \$$2"
  )
}

check_index() {
  [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= NODES)) || die "node index '$1' is not in 1..$NODES"
}

ctl() { # I ARGS...
  local i=$1
  shift
  "$BROKER_SH" ctl "$(node_dir "$i")" "$@"
}

# Waits until node I reports every node of the cluster running.
wait_clustered() {
  local i=$1 want=$2 deadline=$((SECONDS + JOIN_TIMEOUT)) running
  while :; do
    running=$(ctl "$i" eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc '0-9' || true)
    if [[ "$running" == "$want" ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      ctl "$i" cluster_status >&2 || true
      die "node $i sees ${running:-no} running nodes, not $want, after ${JOIN_TIMEOUT}s (logs in $(node_dir "$i")/log)"
    fi
    sleep 0.5
  done
}

write_env() {
  local urls="" names="" i
  for ((i = 1; i <= NODES; i++)); do
    urls+="${urls:+,}amqp://guest:guest@127.0.0.1:$(node_conf "$i" NODE_PORT)/"
    names+="${names:+ }$(node_conf "$i" NODENAME)"
  done
  cat >"$DIR/env" <<EOF
export PAPERQ_BROKER_URL=$urls
export PQ_CLUSTER_NODES=$NODES PQ_CLUSTER_DIR=$DIR
export PQ_CLUSTER_NODE_NAMES="$names"
EOF
}

cmd_start() {
  local n=${1:-3} i
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 9)) || die "N must be 1..9 (got '$n')"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [[ ! -f "$DIR/cluster.conf" ]] || die "$DIR already holds a cluster; stop it and use a fresh directory"
  local t0 epmd_port tag cookie
  t0=$(now)
  epmd_port=$(free_port)
  tag="pq-c$$-$RANDOM"
  cookie=$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')
  NODES=$n
  printf 'NODES=%s\nEPMD_PORT=%s\n' "$n" "$epmd_port" >"$DIR/cluster.conf"
  local used=" $epmd_port " port
  for ((i = 1; i <= n; i++)); do
    local d
    d=$(node_dir "$i")
    mkdir -p "$d"
    local ports=()
    while ((${#ports[@]} < 2)); do
      port=$(free_port)
      if [[ "$used" != *" $port "* ]]; then
        used+="$port "
        ports+=("$port")
      fi
    done
    cat >"$d/broker.conf" <<EOF
NODENAME=$tag-$i@localhost
NODE_PORT=${ports[0]}
DIST_PORT=${ports[1]}
EPMD_PORT=$epmd_port
EOF
    (umask 077 && printf '%s' "$cookie" >"$d/.erlang.cookie")
    chmod 400 "$d/.erlang.cookie"
  done
  # Every node but the first joins the first on its first boot (a node that
  # already belongs to a cluster ignores peer discovery when it restarts).
  for ((i = 2; i <= n; i++)); do
    cat >"$(node_dir "$i")/rabbitmq.extra.conf" <<EOF
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $tag-1@localhost
EOF
  done
  "$BROKER_SH" start "$(node_dir 1)"
  # The others boot side by side: classic-config discovery takes a cluster-wide
  # lock around each join, so they join the first node one after the other.
  local pids=() failed=0
  for ((i = 2; i <= n; i++)); do
    "$BROKER_SH" start "$(node_dir "$i")" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    wait "$i" || failed=1
  done
  ((failed == 0)) || die "a node failed to start (logs above; data in $DIR)"
  wait_clustered 1 "$n"
  write_env
  echo "cluster.sh: $n nodes clustered in $(elapsed "$t0") s; source $DIR/env"
}

cmd_kill() {
  load_cluster
  check_index "$1"
  local d pid port
  d=$(node_dir "$1")
  pid=$(cat "$d/beam.pid" 2>/dev/null || true)
  port=$(node_conf "$1" NODE_PORT)
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || die "node $1 is not running"
  kill -9 "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null || port_open "$port"; do
    ((SECONDS < deadline)) || die "node $1 (pid $pid) still alive 30 s after kill -9"
    sleep 0.05
  done
  rm -f "$d/beam.pid"
  echo "cluster.sh: node $1 ($(node_conf "$1" NODENAME), port $port) killed with -9"
}

cmd_restart() {
  load_cluster
  check_index "$1"
  local t0 d pid
  t0=$(now)
  d=$(node_dir "$1")
  pid=$(cat "$d/beam.pid" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    die "node $1 is running; kill or stop it first"
  fi
  "$BROKER_SH" start "$d"
  wait_clustered "$1" "$(running_count)"
  echo "cluster.sh: node $1 back in the cluster in $(elapsed "$t0") s"
}

# Nodes whose OS process is alive.
running_count() {
  local i c=0 pid
  for ((i = 1; i <= NODES; i++)); do
    pid=$(cat "$(node_dir "$i")/beam.pid" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      c=$((c + 1))
    fi
  done
  echo "$c"
}

cmd_stop() {
  [[ -d "$DIR" ]] || die "no such directory: $DIR"
  DIR=$(cd "$DIR" && pwd)
  load_cluster
  local i
  # Last node first; broker.sh stop's `epmd -kill` only succeeds once no node
  # is registered, i.e. after the last one.
  for ((i = NODES; i >= 1; i--)); do
    if [[ -f "$(node_dir "$i")/broker.conf" ]]; then
      "$BROKER_SH" stop "$(node_dir "$i")" || true
    fi
  done
  epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
  echo "cluster.sh: cluster in $DIR stopped"
}

cmd_leader() {
  load_cluster
  local q=$1 i pid line leader
  for ((i = 1; i <= NODES; i++)); do
    pid=$(cat "$(node_dir "$i")/beam.pid" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || continue
    line=$(ctl "$i" list_queues name leader --quiet --no-table-headers 2>/dev/null | awk -v q="$q" '$1 == q { print $2 }')
    [[ -n "$line" ]] || continue
    leader=$line
    break
  done
  [[ -n "${leader:-}" ]] || die "no running node knows a leader for queue $q"
  for ((i = 1; i <= NODES; i++)); do
    if [[ "$(node_conf "$i" NODENAME)" == "$leader" ]]; then
      echo "$i"
      return 0
    fi
  done
  die "queue $q is led by $leader, not a node of this cluster"
}

[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$2
shift 2
if [[ "$CMD" != start && -d "$DIR" ]]; then
  DIR=$(cd "$DIR" && pwd)
fi

case "$CMD" in
  start)
    cmd_start "$@"
    ;;
  kill)
    [[ $# -eq 1 ]] || usage
    cmd_kill "$1"
    ;;
  restart)
    [[ $# -eq 1 ]] || usage
    cmd_restart "$1"
    ;;
  stop)
    cmd_stop
    ;;
  ctl)
    load_cluster
    [[ $# -ge 1 ]] || usage
    check_index "$1"
    ctl "$@"
    ;;
  leader)
    [[ $# -eq 1 ]] || usage
    cmd_leader "$1"
    ;;
  *)
    usage
    ;;
esac
