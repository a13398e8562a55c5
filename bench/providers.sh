#!/usr/bin/env bash
# The issue-11 run as a benchmark: N papers (default 300) through a private
# broker and the fake provider, once clean and once with every documented
# provider behaviour at a few percent each (tests/integration/providers_scenario.py).
# Prints what the provider billed for each run; the difference is the spend
# the faults threw away, measured from the provider's side, so that builds of
# different commits are compared on the same run:
#
#   bench/providers.sh                      # this checkout's build/
#   bench/providers.sh /tmp/old/build 300   # another build (e.g. git archive 4605a52)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$PWD/build}
N=${2:-300}
DIR=$(mktemp -d /tmp/pq-bench-providers.XXXXXX)
trap 'scripts/broker.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
scripts/broker.sh start "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/env"
PQ_BIN_DIR=$(cd "$BIN" && pwd) PQ_SOURCE_DIR=$PWD python3 tests/integration/providers_scenario.py "$N"
