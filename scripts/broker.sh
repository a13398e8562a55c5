#!/usr/bin/env bash
# A private RabbitMQ node for tests and local runs: its own node name, ports,
# epmd, cookie, data and logs, all under one directory, so it never touches the
# machine's own RabbitMQ (or another test run's).
#
#   scripts/broker.sh start DIR [PORT]   start a node (PORT: AMQP port, default a free one)
#   scripts/broker.sh stop DIR           stop it (and its private epmd)
#   scripts/broker.sh restart DIR        stop, then start on the same ports and data
#   scripts/broker.sh ctl DIR ARGS...    rabbitmqctl against it (e.g. list_queues name messages)
#   scripts/broker.sh status DIR         exit 0 if it is up
#
# After start, DIR/env holds shell lines to source:
#   export RABBITMQ_NODENAME=... PQ_BROKER_PORT=... PAPERQ_TEST_BROKER_URL=amqp://guest:guest@127.0.0.1:PORT/
#
# The RabbitMQ scripts are run straight from /usr/lib/rabbitmq/bin as the
# current user (not through Debian's /usr/sbin wrappers, which switch to the
# `rabbitmq` user and its HOME), with HOME=DIR so the Erlang cookie lives in
# DIR, and ERL_EPMD_PORT set to a private port so stopping our epmd cannot
# disturb any other node on the machine.
set -euo pipefail

BOOT_TIMEOUT=${PQ_BROKER_BOOT_TIMEOUT:-120}
STOP_TIMEOUT=${PQ_BROKER_STOP_TIMEOUT:-60}

die() {
  echo "broker.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

find_rabbit_bin() {
  local d
  for d in "${PQ_RABBITMQ_BIN:-}" /usr/lib/rabbitmq/bin; do
    if [[ -n "$d" && -x "$d/rabbitmq-server" ]]; then
      echo "$d"
      return 0
    fi
  done
  d=$(dpkg -L rabbitmq-server 2>/dev/null | grep '/sbin/rabbitmq-server$' | head -n 1 || true)
  if [[ -n "$d" ]]; then
    dirname "$d"
    return 0
  fi
  die "cannot find RabbitMQ's scripts (rabbitmq-server): install the rabbitmq-server package (scripts/test.sh does) or set PQ_RABBITMQ_BIN"
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

# Runs a RabbitMQ CLI tool against the node in DIR, within $1 seconds (0: no limit).
rabbit_env_run() {
  local limit=$1 tool=$2
  shift 2
  (
    cd "$DIR"
    export HOME="$DIR" ERL_EPMD_PORT="$EPMD_PORT" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
    export RABBITMQ_NODENAME="$NODENAME"
    if ((limit > 0)); then
      exec timeout "$limit" "$RABBIT_BIN/$tool" -n "$NODENAME" "$@"
    fi
    exec "$RABBIT_BIN/$tool" -n "$NODENAME" "$@"
  )
}

load_conf() {
  [[ -f "$DIR/broker.conf" ]] || die "$DIR has no broker.conf: was the broker started with 'scripts/broker.sh start $DIR'?"
  # shellcheck source=/dev/null
  . "$DIR/broker.conf"
}

show_logs() {
  local f
  for f in "$DIR/log/startup.log" "$DIR/log/$NODENAME.log"; do
    if [[ -s "$f" ]]; then
      echo "---- last 40 lines of $f" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

beam_pid() {
  if [[ -s "$DIR/beam.pid" ]]; then
    cat "$DIR/beam.pid"
  fi
}

alive() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null
}

cmd_start() {
  local want_port=${1:-}
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if [[ -f "$DIR/broker.conf" ]]; then
    load_conf
    if alive "$(beam_pid)"; then
      die "a broker from $DIR is already running (node $NODENAME, port $NODE_PORT); stop it first"
    fi
    # Reuse name, ports and data (restart).
  else
    NODENAME="paperq-test-$$-$RANDOM@localhost"
    NODE_PORT=${want_port:-$(free_port)}
    DIST_PORT=$(free_port)
    EPMD_PORT=$(free_port)
    while [[ "$DIST_PORT" == "$NODE_PORT" || "$EPMD_PORT" == "$NODE_PORT" || "$EPMD_PORT" == "$DIST_PORT" ]]; do
      DIST_PORT=$(free_port)
      EPMD_PORT=$(free_port)
    done
    cat >"$DIR/broker.conf" <<EOF
NODENAME=$NODENAME
NODE_PORT=$NODE_PORT
DIST_PORT=$DIST_PORT
EPMD_PORT=$EPMD_PORT
EOF
  fi
  if port_open "$NODE_PORT"; then
    die "port $NODE_PORT is already in use by another process; pick another PORT"
  fi

  mkdir -p "$DIR/mnesia" "$DIR/log"
  echo '[].' >"$DIR/enabled_plugins"
  : >"$DIR/rabbitmq-env.conf" # keep /etc/rabbitmq/rabbitmq-env.conf out
  cat >"$DIR/rabbitmq.conf" <<EOF
# Written by scripts/broker.sh: a private test node.
loopback_users = none
listeners.tcp.default = 127.0.0.1:$NODE_PORT
disk_free_limit.absolute = 50MB
log.file.level = info
log.console = false
# Queue metrics (list_queues messages) every 0.5 s, not 5 s, so tests that
# look at queue depths see the present, not the state of seconds ago.
collect_statistics_interval = 500
EOF
  # scripts/cluster.sh puts each node's cluster-formation lines here.
  if [[ -f "$DIR/rabbitmq.extra.conf" ]]; then
    cat "$DIR/rabbitmq.extra.conf" >>"$DIR/rabbitmq.conf"
  fi
  # Quorum queues report their metrics on their own tick (default 5 s).
  echo '[{rabbit, [{quorum_tick_interval, 500}]}].' >"$DIR/advanced.config"
  # The cookie: Erlang creates \$HOME/.erlang.cookie on first boot; make it
  # ourselves so the CLI tools and the node agree from the start.
  if [[ ! -f "$DIR/.erlang.cookie" ]]; then
    (umask 077 && head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' >"$DIR/.erlang.cookie")
    chmod 400 "$DIR/.erlang.cookie"
  fi
  rm -f "$DIR/beam.pid"

  local t0 server_pid
  t0=$(now)
  (
    cd "$DIR"
    export HOME="$DIR" ERL_EPMD_PORT="$EPMD_PORT"
    export RABBITMQ_NODENAME="$NODENAME" RABBITMQ_NODE_PORT="$NODE_PORT" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_DIST_PORT="$DIST_PORT"
    export RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" RABBITMQ_PID_FILE="$DIR/beam.pid"
    exec setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >>"$DIR/log/startup.log" 2>&1
  ) &
  server_pid=$!
  echo "$server_pid" >"$DIR/server.pid"

  # `ping` answers while the node is still booting: wait for the AMQP port,
  # then for await_startup.
  local deadline=$((SECONDS + BOOT_TIMEOUT))
  until port_open "$NODE_PORT"; do
    if ! alive "$server_pid"; then
      show_logs
      die "the RabbitMQ node $NODENAME exited during boot (logs above; data in $DIR)"
    fi
    if ((SECONDS >= deadline)); then
      show_logs
      die "the RabbitMQ node $NODENAME did not open port $NODE_PORT within ${BOOT_TIMEOUT}s (logs above)"
    fi
    sleep 0.1
  done
  if ! rabbit_env_run $((BOOT_TIMEOUT + 10)) rabbitmqctl await_startup --timeout "$BOOT_TIMEOUT" >"$DIR/log/await.log" 2>&1; then
    cat "$DIR/log/await.log" >&2
    show_logs
    die "rabbitmqctl await_startup failed for $NODENAME"
  fi

  local url="amqp://guest:guest@127.0.0.1:$NODE_PORT/"
  cat >"$DIR/env" <<EOF
export RABBITMQ_NODENAME=$NODENAME PQ_BROKER_PORT=$NODE_PORT PQ_BROKER_DIR=$DIR
export PAPERQ_TEST_BROKER_URL=$url
EOF
  echo "broker.sh: node $NODENAME up on 127.0.0.1:$NODE_PORT in $(elapsed "$t0") s (data and logs in $DIR)"
}

cmd_stop() {
  [[ -d "$DIR" ]] || die "no such directory: $DIR"
  DIR=$(cd "$DIR" && pwd)
  load_conf
  local pid server_pid
  pid=$(beam_pid)
  server_pid=$(cat "$DIR/server.pid" 2>/dev/null || true)
  if alive "$pid"; then
    # Given the pid file, `stop` waits for the OS process to exit.
    rabbit_env_run "$STOP_TIMEOUT" rabbitmqctl stop "$DIR/beam.pid" >"$DIR/log/stop.log" 2>&1 || echo "broker.sh: rabbitmqctl stop failed or timed out; killing the node" >&2
    local deadline=$((SECONDS + 15))
    while alive "$pid" && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  if alive "$server_pid"; then
    kill "$server_pid" 2>/dev/null || true
  fi
  # Our epmd listens on our private port only: killing it touches no one else.
  if command -v epmd >/dev/null 2>&1; then
    epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
  fi
  rm -f "$DIR/beam.pid"
  echo "broker.sh: node $NODENAME stopped"
}

cmd_status() {
  DIR=$(cd "$DIR" && pwd)
  load_conf
  alive "$(beam_pid)" && port_open "$NODE_PORT"
}

[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$2
shift 2
RABBIT_BIN=$(find_rabbit_bin)

case "$CMD" in
  start)
    cmd_start "$@"
    ;;
  stop)
    cmd_stop
    ;;
  restart)
    cmd_stop
    cmd_start
    ;;
  ctl)
    DIR=$(cd "$DIR" && pwd)
    load_conf
    rabbit_env_run 0 rabbitmqctl "$@"
    ;;
  status)
    cmd_status
    ;;
  *)
    usage
    ;;
esac
