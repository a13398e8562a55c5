#!/usr/bin/env bash
# Runs the main job locally, end to end: builds if needed, starts a private
# RabbitMQ (unless PAPERQ_BROKER_URL is set), the ledger and N workers, queues
# the bundled sample papers, waits until every paper is succeeded or parked,
# prints the report and stops everything.
#
#   ./scripts/run-sample.sh                       200 sample papers, 2 workers
#   ./scripts/run-sample.sh --workers 4 --limit 50
#   ./scripts/run-sample.sh --fresh FILE.jsonl ...  own inputs, new ledger DB
#
# Translation is a DRY RUN (no network, output marked dry_run) unless the
# variable named by translate.api_key_env (OPENROUTER_API_KEY in the shipped
# config) is set; then it calls the configured provider and costs money.
# The ledger DB stays in ./run/ledger.db for `report` and `export` afterwards.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

WORKERS=2
LIMIT=
FRESH=0
INPUTS=()
TIMEOUT=${PAPERQ_SAMPLE_TIMEOUT:-3600}

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

while (($#)); do
  case "$1" in
    --workers)
      WORKERS=${2:?--workers needs a number}
      shift 2
      ;;
    --limit)
      LIMIT=${2:?--limit needs a number}
      shift 2
      ;;
    --fresh)
      FRESH=1
      shift
      ;;
    -h | --help)
      usage
      ;;
    -*)
      echo "run-sample.sh: unknown option $1" >&2
      usage
      ;;
    *)
      INPUTS+=("$1")
      shift
      ;;
  esac
done
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || {
  echo "run-sample.sh: --workers wants a positive number" >&2
  exit 2
}
if ((${#INPUTS[@]} == 0)); then
  INPUTS=("$ROOT/tests/fixtures/sample.jsonl")
fi

BUILD_DIR=${PAPERQ_BUILD_DIR:-build}
PRODUCER=$BUILD_DIR/producer/paperq-producer
WORKER=$BUILD_DIR/worker/paperq-worker
LEDGER=$BUILD_DIR/ledger/paperq-ledger

# ---- build if needed -------------------------------------------------------
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "== configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null
fi
echo "== building (if needed)"
cmake --build "$BUILD_DIR" -j2 >"$BUILD_DIR/run-sample-build.log" 2>&1 || {
  tail -n 40 "$BUILD_DIR/run-sample-build.log" >&2
  echo "run-sample.sh: build failed (full log: $BUILD_DIR/run-sample-build.log)" >&2
  exit 1
}

mkdir -p run
printf '*\n' >run/.gitignore # run/ is local output, never committed
RUN=$ROOT/run
export PAPERQ_LEDGER_DB=$RUN/ledger.db
if ((FRESH)); then
  rm -f "$RUN"/ledger.db "$RUN"/ledger.db-wal "$RUN"/ledger.db-shm
fi

# ---- dry run or real provider ----------------------------------------------
CONFIG=${PAPERQ_CONFIG:-$ROOT/config/paperq.conf}
export PAPERQ_CONFIG=$CONFIG
# translate.api_key_env from the environment override or the config file.
KEY_ENV=${PAPERQ_TRANSLATE_API_KEY_ENV:-$(awk '
  /^[[:space:]]*translate[[:space:]]*[:=]?[[:space:]]*\{/ { in_t = 1; next }
  in_t && /^[[:space:]]*\}/ { in_t = 0 }
  in_t && /^[[:space:]]*api_key_env[[:space:]]*=/ {
    if (match($0, /"[^"]*"/)) { print substr($0, RSTART + 1, RLENGTH - 2); exit }
  }' "$CONFIG")}
if [[ -n "${PAPERQ_TRANSLATE_PROVIDER:-}" ]]; then
  MODE="provider '$PAPERQ_TRANSLATE_PROVIDER' (PAPERQ_TRANSLATE_PROVIDER is set)"
elif [[ -n "$KEY_ENV" && -n "${!KEY_ENV:-}" ]]; then
  MODE="REAL translation: \$$KEY_ENV is set, calling the configured provider (this costs money)"
else
  export PAPERQ_TRANSLATE_PROVIDER=dry-run
  MODE="DRY RUN: \$${KEY_ENV:-<translate.api_key_env>} is not set, so no LLM is called and every output is marked dry_run"
fi
echo "################################################################"
echo "## run-sample: $MODE"
echo "################################################################"

# ---- processes and cleanup -------------------------------------------------
PIDS=()
BROKER_DIR=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-sample.sh: process $pid ignored SIGTERM for 15 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "$BROKER_DIR" ]]; then
    "$ROOT/scripts/broker.sh" stop "$BROKER_DIR" >/dev/null || true
    rm -rf "$BROKER_DIR"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n "${PAPERQ_BROKER_URL:-}" ]]; then
  echo "== using the broker in PAPERQ_BROKER_URL"
else
  BROKER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paperq-sample-broker.XXXXXX")
  echo "== starting a private RabbitMQ"
  "$ROOT/scripts/broker.sh" start "$BROKER_DIR"
  # shellcheck source=/dev/null
  . "$BROKER_DIR/env"
  export PAPERQ_BROKER_URL=$PAPERQ_TEST_BROKER_URL
fi

tail_logs() {
  local f
  for f in "$RUN"/*.log; do
    echo "---- last 20 lines of $f" >&2
    tail -n 20 "$f" >&2
  done
}

echo "== starting the ledger and $WORKERS worker(s); logs in run/"
"$LEDGER" serve >"$RUN/ledger.log" 2>&1 &
LEDGER_PID=$!
PIDS+=("$LEDGER_PID")
WORKER_PIDS=()
for i in $(seq 1 "$WORKERS"); do
  "$WORKER" >"$RUN/worker-$i.log" 2>&1 &
  WORKER_PIDS+=($!)
  PIDS+=($!)
done

PRODUCER_ARGS=()
for f in "${INPUTS[@]}"; do
  PRODUCER_ARGS+=(--input "$f")
done
if [[ -n "$LIMIT" ]]; then
  PRODUCER_ARGS+=(--limit "$LIMIT")
fi
echo "== queueing: ${INPUTS[*]}"
T0=$SECONDS
"$PRODUCER" "${PRODUCER_ARGS[@]}" >"$RUN/producer.out" 2>"$RUN/producer.log" || {
  cat "$RUN/producer.out" "$RUN/producer.log" >&2
  echo "run-sample.sh: the producer failed" >&2
  exit 1
}
cat "$RUN/producer.out"
QUEUED=$(sed -n 's/.*queued \([0-9][0-9]*\).*/\1/p' "$RUN/producer.out" | head -n 1)
QUEUED=${QUEUED:-0}

# ---- wait until every paper is terminal -------------------------------------
# Prints "done" when queued+running+retrying == 0, total == succeeded+parked
# and total >= what the producer queued; otherwise a progress line.
progress() {
  "$LEDGER" report --json 2>/dev/null | python3 -c '
import json, sys
want = int(sys.argv[1])
try:
    p = json.load(sys.stdin)["papers"]
except Exception:
    print("waiting for the ledger"); sys.exit(0)
busy = p["queued"] + p["running"] + p["retrying"]
if busy == 0 and p["total"] == p["succeeded"] + p["parked"] and p["total"] >= want:
    print("done")
else:
    print("%d/%d terminal (succeeded %d, parked %d, running %d, retrying %d, queued %d)" % (
        p["succeeded"] + p["parked"], max(p["total"], want), p["succeeded"], p["parked"],
        p["running"], p["retrying"], p["queued"]))
' "$QUEUED"
}

last_print=0
while :; do
  state=$(progress || echo "report failed")
  if [[ "$state" == done ]]; then
    break
  fi
  if ((SECONDS - last_print >= 5)); then
    echo "   [$((SECONDS - T0)) s] $state"
    last_print=$SECONDS
  fi
  alive=0
  for pid in "${WORKER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then alive=1; fi
  done
  if ((!alive)) || ! kill -0 "$LEDGER_PID" 2>/dev/null; then
    tail_logs
    echo "run-sample.sh: the ledger or every worker exited before the queue drained (logs above)" >&2
    exit 1
  fi
  if ((SECONDS - T0 > TIMEOUT)); then
    tail_logs
    echo "run-sample.sh: not drained after $TIMEOUT s (PAPERQ_SAMPLE_TIMEOUT); last: $state" >&2
    exit 1
  fi
  sleep 1
done
echo "== all papers terminal after $((SECONDS - T0)) s"
echo
"$LEDGER" report
echo
echo "## $MODE"
echo "The ledger stays in run/ledger.db. Afterwards:"
echo "   PAPERQ_LEDGER_DB=run/ledger.db $LEDGER report"
echo "   PAPERQ_LEDGER_DB=run/ledger.db $LEDGER export --out run/export"
echo "   PAPERQ_LEDGER_DB=run/ledger.db $LEDGER show PAPER_ID"
