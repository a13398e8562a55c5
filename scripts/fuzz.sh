#!/usr/bin/env bash
# Runs every libFuzzer target in tests/fuzz/ for SECONDS each (default 10),
# seeded from the real data in tests/fixtures, and fails on any crash, leak
# or sanitizer report (the input that caused it is kept and its path printed;
# turn it into a regression test).
#
#   scripts/fuzz.sh [SECONDS]            all targets, SECONDS each
#   scripts/fuzz.sh 600 record job       some targets (the 10-minute runs)
#
# Environment:
#   PAPERQ_BUILD_DIR=DIR  build tree (default build-fuzz/; configured here with
#                         CC=clang -DPAPERQ_SANITIZE=ON -DPAPERQ_FUZZ=ON)
#   PQ_FUZZ_JOBS=N        targets run at once (default 1; the machine is shared)
#   PQ_FUZZ_DIR=DIR       corpora, artifacts and logs (default DIR/fuzz in the build tree);
#                         the corpus grows across runs
# Needs clang and libclang-rt (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECONDS_EACH=10
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  SECONDS_EACH=$1
  shift
fi
ALL=(record job event control chat qa mask chunk config)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")
BUILD=${PAPERQ_BUILD_DIR:-build-fuzz}
JOBS=${PQ_FUZZ_JOBS:-1}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in clang libclang-rt-14-dev; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=()
  [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

T0=$(date +%s.%N)
if [[ ! -f "$BUILD/CMakeCache.txt" ]] || ! grep -q 'PAPERQ_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  CC=clang cmake -S "$ROOT" -B "$BUILD" -DPAPERQ_SANITIZE=ON -DPAPERQ_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAPERQ_WERROR=ON >/dev/null
fi
cmake --build "$BUILD" -j2 --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null
BUILT=$(date +%s.%N)
OUT=${PQ_FUZZ_DIR:-$BUILD/fuzz}
mkdir -p "$OUT"

# ---- seed corpora from tests/fixtures (real ChinaXiv records) ---------------
python3 "$ROOT/tests/fuzz/seeds.py" "$ROOT" "$OUT/seeds" "${TARGETS[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1 corpus="$OUT/corpus/$1" art="$OUT/artifacts/$1/" log="$OUT/$1.log" max_len=65536
  mkdir -p "$corpus" "$art"
  case $t in record | job | event) max_len=262144 ;; esac
  if "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 \
    -max_len=$max_len -artifact_prefix="$art" -print_final_stats=1 \
    "$corpus" "$OUT/seeds/$t" >"$log" 2>&1; then
    echo "fuzz_$t: ok: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs in ${SECONDS_EACH} s, corpus $(find "$corpus" -type f | wc -l) inputs, $(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
  else
    echo "fuzz_$t: FAILED; log $log; input(s):" >&2
    find "$art" -type f | sed 's/^/  /' >&2
    grep -E 'ERROR|SUMMARY|property failed|runtime error' "$log" | head -5 | sed 's/^/  /' >&2
    return 1
  fi
}

status=0
pids=()
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} >= JOBS)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || status=1
done
awk -v a="$T0" -v b="$BUILT" -v c="$(date +%s.%N)" \
  'BEGIN { printf "fuzz.sh: build %.1f s, fuzzing %.1f s\n", b - a, c - b }'
exit $status
