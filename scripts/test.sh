#!/usr/bin/env bash
# THE test command (CI's .ci/run calls exactly this): installs what is missing
# with apt-get, builds with -Werror, starts a private RabbitMQ for the run,
# runs ctest, and stops the broker whatever happens.
#
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh -L unit         extra arguments go to ctest
#   ./scripts/test.sh -R integration.pipeline -V
#
# Environment:
#   PAPERQ_BUILD_DIR=DIR   build directory (default build/, build-sanitize/ with PAPERQ_SANITIZE=1)
#   PAPERQ_SANITIZE=1      clang build with AddressSanitizer, LeakSanitizer and
#                          UndefinedBehaviorSanitizer (+ float-cast-overflow), the
#                          libFuzzer targets built too; every report of every
#                          process (tests and the programs they start) is collected
#                          and any report fails the run (.ci/run's sanitizer stage)
#   PAPERQ_TEST_BROKER_URL and PQ_BROKER_DIR both set: reuse that broker
#                          (from `scripts/broker.sh start DIR; source DIR/env`)
#   PQ_KEEP_TMP=1          keep every integration test's temp dir
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

PACKAGES=(build-essential cmake pkg-config librabbitmq-dev libcjson-dev libconfig-dev
  libcurl4-openssl-dev libsqlite3-dev sqlite3 rabbitmq-server python3 unicode-data bzip2
  clang-format chromium libmicrohttpd-dev)
# chromium: tests/integration/test_site.py opens the static site in Debian's
# headless browser (node/npm, already on the machine, bring KaTeX, MiniSearch
# and playwright-core from the npm registry: scripts/site-assets.sh,
# tests/site/install.sh).
if [[ "${PAPERQ_SANITIZE:-0}" == 1 ]]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi

T_START=$(date +%s.%N)
T_STAGE=$T_START
TIMINGS=()
stage_done() {
  local now
  now=$(date +%s.%N)
  TIMINGS+=("$(awk -v a="$T_STAGE" -v b="$now" -v n="$1" 'BEGIN { printf "%-10s %6.1f s", n, b - a }')")
  T_STAGE=$now
}
print_timings() {
  local t
  echo "== test.sh timings"
  for t in "${TIMINGS[@]}"; do
    echo "   $t"
  done
  awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "   %-10s %6.1f s\n", "total", b - a }'
}

# ---- cleanup, whatever happens ---------------------------------------------
BROKER_DIR=
CTEST_PID=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$CTEST_PID" ]] && kill -0 "$CTEST_PID" 2>/dev/null; then
    echo "test.sh: interrupted; stopping ctest and its tests" >&2
    kill -TERM -- "-$CTEST_PID" 2>/dev/null || true
    for _ in $(seq 1 200); do
      kill -0 -- "-$CTEST_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$CTEST_PID" 2>/dev/null || true
  fi
  if [[ -n "$BROKER_DIR" ]]; then
    "$ROOT/scripts/broker.sh" stop "$BROKER_DIR" || true
    if ((status == 0)); then
      rm -rf "$BROKER_DIR"
    else
      echo "test.sh: broker data and logs kept in $BROKER_DIR" >&2
    fi
    stage_done stop
  fi
  print_timings
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- dependencies ----------------------------------------------------------
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing missing packages: ${missing[*]}"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
  fi
  "${SUDO[@]}" apt-get update -q
  # policy-rc.d-less containers may try to start the system rabbitmq-server;
  # we never use it (scripts/broker.sh runs a private node).
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
stage_done deps

# ---- build -----------------------------------------------------------------
CMAKE_ARGS=(-DPAPERQ_WERROR=ON)
SAN_LOG_DIR=
if [[ "${PAPERQ_SANITIZE:-0}" == 1 ]]; then
  BUILD_DIR=${PAPERQ_BUILD_DIR:-build-sanitize}
  export CC=${CC:-clang}
  CMAKE_ARGS+=(-DPAPERQ_SANITIZE=ON -DPAPERQ_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  # Reports go to files, one per process, so that none is lost in a log
  # nobody reads (a worker started by a Python test, a ledger stopped with
  # SIGTERM): any file here at the end fails the run.
  SAN_LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paperq-sanitizer.XXXXXX")
  export PQ_SANITIZER_LOG_DIR=$SAN_LOG_DIR
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:log_path=$SAN_LOG_DIR/asan}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:log_path=$SAN_LOG_DIR/ubsan}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
else
  BUILD_DIR=${PAPERQ_BUILD_DIR:-build}
fi
echo "== configuring $BUILD_DIR (${CMAKE_ARGS[*]})"
cmake -S "$ROOT" -B "$BUILD_DIR" "${CMAKE_ARGS[@]}"
stage_done configure
echo "== building"
cmake --build "$BUILD_DIR" -j2
stage_done build

# ---- format (STYLE.md: .clang-format is checked in CI) ----------------------
# pinyin_table.c is generated by scripts/gen_pinyin.py and left as generated.
echo "== checking the format (clang-format, .clang-format)"
format_files() {
  (cd "$ROOT" && find common producer worker ledger tests bench -name '*.[ch]' \
    ! -name pinyin_table.c | sort)
}
if ! (cd "$ROOT" && format_files | xargs -r clang-format --dry-run --Werror); then
  echo "test.sh: code is not formatted; run: clang-format -i \$(git ls-files '*.[ch]' | grep -v pinyin_table.c)" >&2
  exit 1
fi
stage_done format


# ---- private broker --------------------------------------------------------
if [[ -n "${PAPERQ_TEST_BROKER_URL:-}" && -n "${PQ_BROKER_DIR:-}" ]]; then
  echo "== reusing broker $PAPERQ_TEST_BROKER_URL ($PQ_BROKER_DIR)"
else
  BROKER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paperq-broker.XXXXXX")
  echo "== starting a private RabbitMQ in $BROKER_DIR"
  "$ROOT/scripts/broker.sh" start "$BROKER_DIR"
  # shellcheck source=/dev/null
  . "$BROKER_DIR/env"
  export PAPERQ_TEST_BROKER_URL PQ_BROKER_DIR
fi
stage_done broker

# ---- tests -----------------------------------------------------------------
echo "== ctest $*"
status=0
# ctest runs in its own session so that an interrupt of this script (Ctrl-C,
# SIGTERM from a CI timeout) can stop it and every test program it started.
(cd "$BUILD_DIR" && exec setsid ctest --output-on-failure -j2 "$@") &
CTEST_PID=$!
wait "$CTEST_PID" || status=$?
CTEST_PID=
stage_done ctest
if [[ -n "$SAN_LOG_DIR" ]]; then
  reports=$(find "$SAN_LOG_DIR" -type f | sort)
  if [[ -n "$reports" ]]; then
    echo "test.sh: sanitizer reports ($(echo "$reports" | wc -l)):" >&2
    for r in $reports; do
      echo "---- $r" >&2
      head -n 60 "$r" >&2
    done
    status=1
  else
    echo "== sanitizers: no report from any process"
    rm -rf "$SAN_LOG_DIR"
  fi
fi
exit "$status"
