#!/usr/bin/env bash
# paperq benchmarks in one command: builds a Release tree (build-bench/) if
# needed, starts a private RabbitMQ (scripts/broker.sh) that bench/bench.py
# uses along with its own fake LLMs, runs the benchmarks, prints figures (not
# pass/fail), stops everything and writes docs/benchmarks.md.
#
#   bench/run.sh                      everything (~35 min on 2 cores); writes the doc
#   bench/run.sh --quick              smaller N, shorter windows (~5 min); prints only (--doc to write)
#   bench/run.sh e2e latency ...      a subset of: e2e latency ratelimit ledger rehearsal
#   bench/run.sh rehearsal            issue 12's rehearsal alone (~12 min): 3,400 papers, 1/4/10
#                                     workers, with and without rate-limit headers
#   bench/run.sh --no-doc ...         print only
#
# Environment: PQ_BENCH_BUILD (build dir, default build-bench), PQ_DATA_DIR
# (real records, default /work/shared/data/chinaxiv; the test fixtures
# otherwise). Needs cmake, a C compiler, the libraries of the build,
# rabbitmq-server and python3 (scripts/test.sh installs them).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${PQ_BENCH_BUILD:-$ROOT/build-bench}
COMMAND="bench/run.sh${*:+ $*}"

for a in "$@"; do
  case "$a" in
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
  esac
done

echo "bench/run.sh: building (Release) in $BUILD"
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPAPERQ_BUILD_TESTS=OFF \
    -DPAPERQ_BUILD_BENCH=ON >"$BUILD.configure.log" 2>&1 || {
    cat "$BUILD.configure.log" >&2
    exit 1
  }
  rm -f "$BUILD.configure.log"
fi
cmake --build "$BUILD" -j"$(nproc)" >/dev/null || {
  echo "bench/run.sh: build failed; rerun 'cmake --build $BUILD' to see why" >&2
  exit 1
}

WORK=$(mktemp -d /tmp/pq-bench-run.XXXXXX)
BROKER_DIR=$WORK/broker
DRIVER_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$DRIVER_PID" ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true # it stops its fakes and programs
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  if [[ -f "$BROKER_DIR/broker.conf" ]]; then
    bash "$ROOT/scripts/broker.sh" stop "$BROKER_DIR" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The broker is needed by everything but the ledger benchmark.
need_broker=1
sections=()
for a in "$@"; do
  [[ "$a" == -* ]] || sections+=("$a")
done
if ((${#sections[@]})) && [[ " ${sections[*]} " == " ledger " ]]; then
  need_broker=0
fi
if ((need_broker)); then
  bash "$ROOT/scripts/broker.sh" start "$BROKER_DIR"
  # shellcheck source=/dev/null
  . "$BROKER_DIR/env"
fi

# The fake LLM and the worker hold one socket per request in flight.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

export PQ_BIN_DIR=$BUILD
python3 "$ROOT/bench/bench.py" --command "$COMMAND" "$@" &
DRIVER_PID=$!
wait "$DRIVER_PID"
