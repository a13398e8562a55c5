#!/usr/bin/env bash
# The compose test: does what a user does with docker-compose.yml, for real.
# Builds the images, checks that no key means a loud dry run, `up -d --scale
# worker=3` with a fake LLM provider (real "openai" provider path, with a key),
# queues 100 sample papers, `docker kill`s one worker mid-run, waits until the
# ledger reports every paper succeeded exactly once; restarts RabbitMQ and
# runs the producer again on the whole 200-paper sample (it must skip the 100
# known ones, and the reconnected workers do the rest); `stop worker` and
# checks the workers exited 0 (and, before, that the ledger and a worker answer
# /metrics on the compose network); `stop`, `run --rm ledger report --json` from
# the volume; `run --rm producer harvest` from a stand-in Internet Archive
# (tests/fake_ia/) and `run --rm ledger export --site /out` (KaTeX and
# MiniSearch from the image). Then the `cluster` profile: three RabbitMQ
# nodes clustered by their own configuration, a ledger and two workers given
# all three addresses; the node they connect to first is `docker kill`ed
# mid-run and every paper must still succeed once, with no program exiting.
# Then `down -v`. Cleans up on failure too; prints timings.
#
#   tests/compose/run.sh                 (CI: .ci/run calls it after scripts/test.sh)
#
# Environment:
#   PQ_COMPOSE_PAPERS=N      papers to queue (default 100)
#   PQ_COMPOSE_WORKERS=N     worker containers (default 3)
#   PQ_COMPOSE_TIMEOUT=S     deadline for all papers to succeed (default 600)
#   PQ_COMPOSE_CLUSTER_PAPERS=N  papers for the cluster profile stage (default 80)
#   PQ_COMPOSE_KEEP=1        leave the stack up on failure, for a look
#   PQ_COMPOSE_TAG=T         image tag (default latest), for runs side by side
#   PQ_CONTAINER_ENGINE=F    script that brings up an engine when `docker info`
#                            fails (default ../shared/tools/container-engine.sh)
#
# Engine notes (podman 4.3 behind a Docker API socket + docker-compose 1.29
# + Debian's docker.io CLI, what ../shared/tools/container-engine.sh sets up):
# - the compose file has no `version:` key (Compose Specification): 1.29 then
#   honours `depends_on: condition: service_healthy`, as Compose v2 does.
# - podman runs healthchecks from systemd timers; with no systemd they never
#   run and `condition: service_healthy` would wait forever. The test runs
#   them itself (health_pump below) when the engine is podman.
# - podman's Docker API splits a healthcheck's CMD arguments at spaces, so no
#   `python3 -c "..."` healthchecks: call a script or a program with plain args.
# - a container created through the Docker API has a stop timeout of 0 unless
#   told otherwise: a bare `docker stop` SIGKILLs at once. `docker-compose stop`
#   passes the service's stop_grace_period, which podman honours.
# - `docker-compose run` while the same service is up fails ("link is not
#   supported"): 1.x links a one-off container to the service's running ones.
#   So the live report uses `exec`, and `run --rm ledger report` runs after
#   `stop` (on Docker both work any time).
# - docker-compose 1.29 builds and runs through the docker CLI: it needs one.
# - `--scale` names containers PROJECT_worker_1..N, as Docker does; podman
#   does not apply `restart: on-failure` to a container stopped by `docker kill`.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)

PAPERS=${PQ_COMPOSE_PAPERS:-100}
SAMPLE=200 # papers in tests/fixtures/sample.jsonl, the image's bundled sample
WORKERS=${PQ_COMPOSE_WORKERS:-3}
TIMEOUT=${PQ_COMPOSE_TIMEOUT:-600}
UP_TIMEOUT=300 # for `up -d`: RabbitMQ booting, healthchecks passing
PROJECT=paperqtest$$
# Image tag: tests/compose/test.env names paperq-test/*:latest; PQ_COMPOSE_TAG
# builds and runs paperq-test/*:TAG instead, so a run beside another (a
# developer's, a landing's) never swaps the other's images.
TAG=${PQ_COMPOSE_TAG:-latest}
RABBITMQ_TEST_IMAGE=paperq-test/rabbitmq:$TAG
if [[ "$TAG" != latest ]]; then
  # The shell's environment wins over --env-file in docker-compose.
  export PAPERQ_IMAGE=paperq-test/paperq:$TAG RABBITMQ_IMAGE=$RABBITMQ_TEST_IMAGE \
    FAKELLM_IMAGE=paperq-test/fakellm:$TAG FAKEIA_IMAGE=paperq-test/fakeia:$TAG
fi

T_START=$(date +%s.%N)
T_STAGE=$T_START
TIMINGS=()
stage_done() {
  local now
  now=$(date +%s.%N)
  TIMINGS+=("$(awk -v a="$T_STAGE" -v b="$now" -v n="$1" 'BEGIN { printf "%-30s %6.1f s", n, b - a }')")
  T_STAGE=$now
}
print_timings() {
  local t
  echo "== compose test timings"
  for t in "${TIMINGS[@]}"; do
    echo "   $t"
  done
  awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "   %-30s %6.1f s\n", "total", b - a }'
}
say() { printf '== %s\n' "$*"; }
fail() {
  printf 'compose test FAILED: %s\n' "$*" >&2
  exit 1
}

# ---- engine ----------------------------------------------------------------
if ! { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }; then
  # The workplace's shared tool beside the checkout, else the copy in
  # scripts/ (a CI clone may sit anywhere).
  engine=${PQ_CONTAINER_ENGINE:-}
  if [[ -z "$engine" ]]; then
    for cand in "$ROOT/../shared/tools/container-engine.sh" /work/shared/tools/container-engine.sh \
      "$ROOT/scripts/container-engine.sh"; do
      if [[ -x "$cand" ]]; then
        engine=$cand
        break
      fi
    done
  fi
  [[ -n "$engine" && -x "$engine" ]] || fail "no Docker engine answers and no container-engine.sh was found"
  say "bringing up a container engine ($engine)"
  eval "$("$engine")"
fi
# docker-compose 1.x builds, runs and execs through the docker CLI (Debian's
# docker.io, which its docker-compose package recommends): it must be there.
{ command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; } ||
  fail "the docker CLI does not reach an engine (DOCKER_HOST=${DOCKER_HOST:-unset})"
DK=(docker)
if command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  fail "neither docker-compose nor the docker compose plugin found"
fi
COMPOSE_FILES=(--env-file tests/compose/test.env -f docker-compose.yml
  -f tests/compose/docker-compose.test.yml)
COMPOSE_C=("${COMPOSE[@]}" -p "${PROJECT}c" "${COMPOSE_FILES[@]}") # the cluster stage
COMPOSE+=(-p "$PROJECT" "${COMPOSE_FILES[@]}")
# (No `| grep -q` here: with pipefail, grep quitting early fails the pipe.)
PODMAN=0
engine_version=$("${DK[@]}" version 2>/dev/null || true)
if [[ "$engine_version" == *[Pp]odman* ]]; then
  PODMAN=1
fi
say "engine: $( ((PODMAN)) && echo podman || echo docker) (CLI: ${DK[*]}), compose: ${COMPOSE[0]}$([[ ${COMPOSE[0]} == docker ]] && echo " compose"), project $PROJECT"
stage_done engine

# ---- cleanup, whatever happens ---------------------------------------------
PUMP_PID=
UP=0
UPC=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$PUMP_PID" ]]; then
    kill "$PUMP_PID" 2>/dev/null || true
    wait "$PUMP_PID" 2>/dev/null || true
  fi
  if ((UP)); then
    if ((status != 0)); then
      echo "---- docker-compose ps" >&2
      "${COMPOSE[@]}" ps >&2 || true
      echo "---- last log lines" >&2
      "${COMPOSE[@]}" logs --no-color --tail=60 >&2 || true
    fi
    if ((status != 0)) && [[ "${PQ_COMPOSE_KEEP:-0}" == 1 ]]; then
      echo "compose test: stack left up; remove it with: ${COMPOSE[*]} down -v" >&2
    else
      "${COMPOSE[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || echo "compose test: down -v failed" >&2
    fi
    stage_done down
  fi
  if ((UPC)); then
    if ((status != 0)); then
      COMPOSE_PROFILES=cluster "${COMPOSE_C[@]}" ps >&2 || true
      COMPOSE_PROFILES=cluster "${COMPOSE_C[@]}" logs --no-color --tail=40 >&2 || true
    fi
    if ((status != 0)) && [[ "${PQ_COMPOSE_KEEP:-0}" == 1 ]]; then
      echo "compose test: cluster stack left up; remove it with: COMPOSE_PROFILES=cluster ${COMPOSE_C[*]} down -v" >&2
    else
      COMPOSE_PROFILES=cluster "${COMPOSE_C[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 ||
        echo "compose test: down -v (cluster) failed" >&2
    fi
    stage_done "cluster: down"
  fi
  print_timings
  if ((status == 0)); then
    echo "compose test PASSED"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs the healthchecks of this test's containers (podman with no systemd
# does not run them itself): every 2 s while a container is not healthy yet,
# every 10 s once it is. Each RabbitMQ check starts an Erlang VM, and a pump
# that ran them all every 2 s kept a core busy with the cluster's three nodes.
health_pump() {
  local id status n=0
  while :; do
    while read -r id status; do
      [[ -n "$id" ]] || continue
      if [[ "$status" == *"(healthy)"* ]] && ((n % 5 != 0)); then
        continue
      fi
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done < <(for p in "$PROJECT" "${PROJECT}c"; do
      podman ps --filter "label=com.docker.compose.project=$p" --format '{{.ID}} {{.Status}}' 2>/dev/null
    done)
    n=$((n + 1))
    sleep 2
  done
}

# ---- build -----------------------------------------------------------------
say "building the RabbitMQ stand-in ($RABBITMQ_TEST_IMAGE, Debian's rabbitmq-server)"
out=$("${DK[@]}" build -q -f tests/compose/rabbitmq.Dockerfile -t "$RABBITMQ_TEST_IMAGE" tests/compose 2>&1) ||
  fail "building the RabbitMQ stand-in failed: $out"
stage_done "build rabbitmq stand-in"
# KaTeX and MiniSearch for the image, fetched on this machine (whose npm
# trusts its network's proxy; an image build may not): docker/Dockerfile
# takes site-assets/ from the build context when it is there.
say "scripts/site-assets.sh site-assets (KaTeX + MiniSearch for the image)"
scripts/site-assets.sh site-assets 2>&1 | sed 's/^/   /'
stage_done "site assets (npm)"
say "building paperq and the fake LLM (docker-compose build)"
"${COMPOSE[@]}" build >/tmp/"$PROJECT"-build.log 2>&1 || {
  tail -n 60 /tmp/"$PROJECT"-build.log >&2
  fail "docker-compose build failed (log: /tmp/$PROJECT-build.log)"
}
rm -f /tmp/"$PROJECT"-build.log
stage_done "build paperq + fakellm"

# ---- no key: dry run, said loudly --------------------------------------------
UP=1 # from here on `run` creates the project's network and volumes
out=$("${COMPOSE[@]}" run --rm --no-deps -T -e OPENROUTER_API_KEY= worker --print-config 2>&1) ||
  fail "worker --print-config failed: $out"
grep -q "DRY RUN" <<<"$out" || fail "no DRY RUN banner without a key: $out"
grep -Eq 'provider[^a-z]*"?dry-run' <<<"$out" || fail "provider is not dry-run without a key: $out"
if grep -q compose-test-key <<<"$out"; then
  fail "the API key appears in the worker's output"
fi
out=$("${COMPOSE[@]}" run --rm --no-deps -T worker --print-config 2>&1) ||
  fail "worker --print-config failed: $out"
if grep -q "DRY RUN" <<<"$out"; then
  fail "DRY RUN banner although the key is set: $out"
fi
grep -q compose-test-key <<<"$out" && fail "the API key appears in --print-config"
stage_done "dry-run check"

# ---- up --------------------------------------------------------------------
if ((PODMAN)); then
  health_pump &
  PUMP_PID=$!
fi
say "PAPERQ_LIMIT=$PAPERS docker-compose up -d --scale worker=$WORKERS"
# docker-compose waits for healthchecks without a deadline of its own.
PAPERQ_LIMIT=$PAPERS timeout "$UP_TIMEOUT" "${COMPOSE[@]}" up -d --scale "worker=$WORKERS" 2>&1 | sed 's/^/   /' ||
  fail "docker-compose up failed or took more than $UP_TIMEOUT s (healthchecks?)"
stage_done "up -d"

# ---- wait for the papers ---------------------------------------------------
# report --json through the running ledger; prints "total succeeded parked
# failed remaining" (or nothing while the ledger is not answering).
# (`docker exec` by id: docker-compose takes a second or two per command,
# too slow to poll with.)
LEDGER_ID=
counts() {
  [[ -n "$LEDGER_ID" ]] || LEDGER_ID=$("${COMPOSE[@]}" ps -q ledger)
  timeout 60 "${DK[@]}" exec "$LEDGER_ID" paperq-ledger report --json 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["papers"]
print(p.get("total", 0), p.get("succeeded", 0), p.get("parked", 0), p.get("failed", 0), p.get("remaining", 0))
' 2>/dev/null || true
}
container_exit() { "${DK[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }

# `docker-compose stop worker`; every worker must exit 0 (SIGTERM: finish or
# hand back what is in flight), except the one SIGKILLed earlier if the
# engine did not restart it.
stop_workers() {
  local ids id st restarts bad=0
  ids=$("${COMPOSE[@]}" ps -q worker)
  say "docker-compose stop worker"
  "${COMPOSE[@]}" stop worker 2>&1 | sed 's/^/   /'
  for id in $ids; do
    st=$(container_exit "$id")
    restarts=$("${DK[@]}" inspect -f '{{.RestartCount}}' "$id" 2>/dev/null || echo '?')
    echo "   worker ${id:0:12}: $st (restarts: $restarts)"
    if [[ "$id" == "$killed" && "$st" == "exited 137" ]]; then
      continue # the one we killed, not restarted by the engine
    fi
    [[ "$st" == "exited 0" ]] || bad=1
  done
  ((bad == 0)) || fail "a worker did not exit 0 on docker-compose stop"
}

# Polls the ledger until WANT papers are known and all of them succeeded.
# With CHAOS=1: SIGKILLs one worker once a few papers have succeeded, then
# stops all workers mid-run (they must exit 0 and lose nothing) and starts
# them again, as a user resuming would.
# The fake LLM starts holding every request (--hold). fake_control JSON
# changes that live: {"pass": N} lets exactly N requests through, {"hold":
# false} lifts the hold. The chaos run bounds the work done between its steps
# with passes, so the kill and the stop land while papers are still to do
# however fast the papers or slow `docker exec` are (racing them lost on an
# idle machine, where one `docker exec` took longer than 100 papers).
# A second argument names another compose command array (the cluster stage's).
fake_control() {
  local -n fake_compose=${2:-COMPOSE}
  "${fake_compose[@]}" exec -T fakellm python3 -c '
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:8080/_control",
                       data=sys.argv[1].encode(), method="POST"), timeout=10).read()' "$1" >/dev/null ||
    fail "cannot send $1 to the fake LLM"
}
FIRST_PASS=12  # requests before the kill: at least 5 papers (some are judged)
SECOND_PASS=30 # requests between the kill and the stop

released=
killed=
killed_at=
stopped_at=
wait_papers() {
  local want=$1 chaos=$2 c last='' total succeeded parked failed remaining
  local t0 deadline
  t0=$(date +%s)
  deadline=$((t0 + TIMEOUT))
  while :; do
    c=$(counts)
    read -r total succeeded parked failed remaining <<<"${c:-0 0 0 0 0}"
    if [[ "$c" != "$last" ]]; then
      printf '   %4ds  total %s succeeded %s parked %s failed %s remaining %s\n' \
        "$(($(date +%s) - t0))" "$total" "$succeeded" "$parked" "$failed" "$remaining"
      last=$c
    fi
    ((parked == 0 && failed == 0)) || fail "papers parked ($parked) or failed ($failed)"
    ((total <= want && succeeded <= want)) || fail "more papers than queued: total $total succeeded $succeeded, expected $want"
    if [[ -z "$released" ]] && ((total == want)); then
      fake_control "{\"pass\": $FIRST_PASS}"
      released=1
      say "all $want papers queued; the fake LLM answers $FIRST_PASS requests"
    elif ((chaos)) && [[ -z "$killed" ]] && ((succeeded >= 5)); then
      ((succeeded < want)) || fail "all $want papers finished before the kill"
      killed=$("${COMPOSE[@]}" ps -q worker)
      killed=${killed%%$'\n'*}
      [[ -n "$killed" ]] || fail "no worker container to kill"
      "${DK[@]}" kill "$killed" >/dev/null
      killed_at=$succeeded
      say "killed worker ${killed:0:12} (SIGKILL) at $succeeded/$want succeeded"
      fake_control "{\"pass\": $SECOND_PASS}"
      stage_done "until kill"
    elif ((chaos)) && [[ -n "$killed" && -z "$stopped_at" ]] && ((succeeded >= killed_at + 10)); then
      stop_workers # papers held in flight: each worker drains, hands them back, exits 0
      read -r total succeeded parked failed remaining <<<"$(counts)"
      stopped_at=$succeeded
      say "workers stopped at $succeeded/$want succeeded, $remaining to go"
      ((remaining > 0)) || fail "nothing left to do when the workers stopped"
      fake_control '{"hold": false}'
      stage_done "until stop worker"
      say "docker-compose up -d --scale worker=$WORKERS (resume)"
      timeout "$UP_TIMEOUT" "${COMPOSE[@]}" up -d --scale "worker=$WORKERS" worker 2>&1 | sed 's/^/   /' ||
        fail "docker-compose up -d worker failed"
    fi
    if { ((chaos == 0)) || [[ -n "$stopped_at" ]]; } && ((total == want && succeeded == want && remaining == 0)); then
      return 0
    fi
    (($(date +%s) < deadline)) || fail "deadline: $succeeded of $want succeeded after ${TIMEOUT} s"
    sleep 1
  done
}

say "waiting for $PAPERS papers to succeed (deadline ${TIMEOUT} s); one worker is killed, then all are stopped and started again"
wait_papers "$PAPERS" 1
stage_done "until $PAPERS succeeded"

# The producer ran once and exited 0.
pid=$("${COMPOSE[@]}" ps -q producer)
[[ "$(container_exit "$pid")" == "exited 0" ]] || fail "producer: $(container_exit "$pid"), expected exited 0"
# The fake provider was really called (not a dry run), with the key.
stats=$("${COMPOSE[@]}" exec -T fakellm python3 -c \
  'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8080/_stats").read().decode())')
say "fake LLM stats: $(tr -d '\n' <<<"$stats" | cut -c1-300)"
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if s["by_status"].get("200", 0) >= int(sys.argv[2]) else 1)' "$stats" "$PAPERS" ||
  fail "the fake LLM saw fewer requests than papers: $stats"

# ---- Prometheus /metrics on the compose network (what the monitoring profile
# scrapes): the ledger's fleet view, and a worker's own (any live one).
scrape='
import socket, sys, urllib.request
host, port = sys.argv[1], int(sys.argv[2])
for ip in sorted({a[4][0] for a in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}):
    try:
        print(urllib.request.urlopen("http://%s:%d/metrics" % (ip, port), timeout=10).read().decode())
        sys.exit(0)
    except OSError:
        pass
sys.exit("no %s answered /metrics on port %d" % (host, port))'
metrics=$("${COMPOSE[@]}" exec -T fakellm python3 -c "$scrape" ledger 9464) ||
  fail "the ledger's /metrics did not answer on ledger:9464"
grep -q "^paperq_papers{state=\"succeeded\"} $PAPERS\$" <<<"$metrics" ||
  fail "the ledger's /metrics does not say $PAPERS succeeded: $(grep '^paperq_papers' <<<"$metrics")"
metrics=$("${COMPOSE[@]}" exec -T fakellm python3 -c "$scrape" worker 9465) ||
  fail "no worker's /metrics answered on worker:9465"
grep -Eq '^paperq_worker_http_requests_total\{outcome="ok"\} [1-9]' <<<"$metrics" ||
  fail "a worker's /metrics shows no answered request: $(grep http_requests_total <<<"$metrics")"
say "/metrics: ledger and a worker answer on the compose network"
stage_done "metrics"

# ---- the README's report command, on the running ledger ---------------------
say "docker-compose exec ledger paperq-ledger report"
"${COMPOSE[@]}" exec -T ledger paperq-ledger report 2>&1 | sed 's/^/   /'
stage_done "report"

# ---- the broker restarts; a second `up` queues only the papers not done yet --
say "docker-compose restart rabbitmq (the programs reconnect)"
"${COMPOSE[@]}" restart -t 30 rabbitmq 2>&1 | sed 's/^/   /'
stage_done "restart rabbitmq"
say "PAPERQ_LIMIT=$SAMPLE docker-compose up -d producer: the rest of the $SAMPLE-paper sample"
PAPERQ_LIMIT=$SAMPLE timeout "$UP_TIMEOUT" "${COMPOSE[@]}" up -d producer 2>&1 | sed 's/^/   /' ||
  fail "docker-compose up -d producer failed or took more than $UP_TIMEOUT s"
wait_papers "$SAMPLE" 0
pid=$("${COMPOSE[@]}" ps -q producer)
[[ "$(container_exit "$pid")" == "exited 0" ]] || fail "second producer: $(container_exit "$pid"), expected exited 0"
plog=$("${DK[@]}" logs "$pid" 2>&1)
grep -q "skipped $PAPERS already in the ledger" <<<"$plog" ||
  fail "second producer run did not skip the $PAPERS known papers: $plog"
stage_done "until $SAMPLE succeeded"

# ---- stop the workers again, idle this time ------------------------------------
stop_workers
stage_done "stop worker"

# Nothing was lost or recorded twice.
read -r total succeeded parked failed remaining <<<"$(counts)"
((total == SAMPLE && succeeded == SAMPLE && parked == 0 && failed == 0 && remaining == 0)) ||
  fail "after stop: total $total succeeded $succeeded parked $parked failed $failed remaining $remaining"

# ---- stop everything; the report still reads from the volume ---------------
# (`run` while the ledger is up fails on podman: docker-compose 1.x links a
# one-off container to the service's running ones, and podman has no links.)
ledger_id=$("${COMPOSE[@]}" ps -q ledger)
say "docker-compose stop; docker-compose run --rm ledger report --json"
"${COMPOSE[@]}" stop 2>&1 | sed 's/^/   /'
[[ "$(container_exit "$ledger_id")" == "exited 0" ]] ||
  fail "ledger: $(container_exit "$ledger_id") on stop, expected exited 0"
json=$("${COMPOSE[@]}" run --rm --no-deps -T ledger report --json 2>/dev/null) ||
  fail "docker-compose run --rm ledger report --json failed"
python3 -c '
import json, sys
p = json.loads(sys.argv[1])["papers"]
sys.exit(0 if p["total"] == p["succeeded"] == int(sys.argv[2]) else 1)' "$json" "$SAMPLE" ||
  fail "run --rm ledger report --json disagrees: $json"
stage_done "stop + run --rm report"
say "$SAMPLE papers ($PAPERS, then the rest after a broker restart) succeeded once each; a worker killed at $killed_at/$PAPERS, all stopped at $stopped_at/$PAPERS and resumed"

# ---- the two ends: harvest and site ------------------------------------------
OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paperq-compose-out.XXXXXX")
mkdir -p "$OUT_DIR/harvest" "$OUT_DIR/site"
chmod a+rwx "$OUT_DIR/harvest" "$OUT_DIR/site" # the containers run as uid 10001
say "docker-compose run --rm producer harvest --out /harvest/ia.json (from the fake Internet Archive)"
timeout 120 "${COMPOSE[@]}" up -d --no-deps fakeia 2>&1 | sed 's/^/   /' ||
  fail "docker-compose up -d fakeia failed"
out=$(timeout 300 "${COMPOSE[@]}" run --rm --no-deps -T -v "$OUT_DIR/harvest:/harvest" \
  -e PAPERQ_HARVEST_BASE_URL=http://fakeia:8080 -e PAPERQ_HARVEST_PAGE_SIZE=100 \
  -e PAPERQ_HARVEST_REQUESTS_PER_MINUTE=600 producer harvest --out /harvest/ia.json 2>&1) ||
  fail "producer harvest failed: $out"
n=$(python3 -c 'import json, sys; print(len({r["id"] for r in json.load(open(sys.argv[1]))}))' \
  "$OUT_DIR/harvest/ia.json") || fail "the harvest is not a JSON array: $out"
((n == SAMPLE)) || fail "harvest wrote $n papers, the fake archive holds $SAMPLE: $out"
stage_done "run --rm producer harvest"
say "docker-compose run --rm ledger export --site /out"
out=$("${COMPOSE[@]}" run --rm --no-deps -T -v "$OUT_DIR/site:/out" ledger export --site /out 2>&1) ||
  fail "ledger export --site failed: $out"
grep -q "formulas: KaTeX; search: MiniSearch" <<<"$out" || fail "the image's site has no KaTeX or MiniSearch: $out"
rows=$(grep -c '<tr data-id=' "$OUT_DIR/site/index.html") || true
((rows == SAMPLE)) || fail "the site's index lists $rows papers, expected $SAMPLE"
[[ -f "$OUT_DIR/site/assets/katex/katex.min.js" && -f "$OUT_DIR/site/assets/minisearch/minisearch.js" ]] ||
  fail "KaTeX or MiniSearch missing from the site"
rm -rf "$OUT_DIR"
stage_done "run --rm ledger export --site"
say "harvested $n papers through the producer image; the site lists all $rows translations"
"${COMPOSE[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || fail "docker-compose down -v failed"
UP=0
stage_done down

# ---- the cluster profile: three RabbitMQ nodes, the first one killed ---------
# Its own project, so nothing of the stage above is reused; the images are.
# The fleet comes up, the producer queues the papers and exits; the fake LLM
# (holding, as above) then answers CLUSTER_PASS requests, so some papers
# succeed on the first node and the rest cannot; `rabbitmq` is killed, the
# hold lifted, and the rest must succeed through the other two nodes.
CLUSTER_PAPERS=${PQ_COMPOSE_CLUSTER_PAPERS:-80}
CLUSTER_PASS=20 # requests before the kill: at least 8 papers (some are judged)
export COMPOSE_PROFILES=cluster PAPERQ_RABBITMQ_NODES=3
export PAPERQ_BROKER_URL=amqp://guest:guest@rabbitmq:5672/,amqp://guest:guest@rabbitmq-2:5672/,amqp://guest:guest@rabbitmq-3:5672/
UPC=1
say "cluster profile: docker-compose up -d --scale worker=2 rabbitmq rabbitmq-2 rabbitmq-3 ledger worker"
timeout "$UP_TIMEOUT" "${COMPOSE_C[@]}" up -d --scale worker=2 rabbitmq rabbitmq-2 rabbitmq-3 ledger worker 2>&1 |
  sed 's/^/   /' || fail "docker-compose up (cluster profile) failed or took more than $UP_TIMEOUT s"
stage_done "cluster: up -d"
rmq1=$("${COMPOSE_C[@]}" ps -q rabbitmq)
cledger=$("${COMPOSE_C[@]}" ps -q ledger)
say "PAPERQ_LIMIT=$CLUSTER_PAPERS docker-compose up -d producer; the fake LLM answers $CLUSTER_PASS requests"
PAPERQ_LIMIT=$CLUSTER_PAPERS timeout "$UP_TIMEOUT" "${COMPOSE_C[@]}" up -d --no-deps producer 2>&1 | sed 's/^/   /' ||
  fail "docker-compose up -d producer (cluster profile) failed"
cprod=$("${COMPOSE_C[@]}" ps -q producer)
st=$(timeout 120 "${DK[@]}" wait "$cprod") || fail "cluster: the producer did not exit within 120 s"
[[ "$st" == 0 ]] || fail "cluster: the producer exited $st: $("${DK[@]}" logs "$cprod" 2>&1 | tail -n 5)"
# Every queue must have a replica on each node before one is killed: a queue
# declared while a node was still joining has two, and losing one of them
# takes its majority (the healthcheck waits for all three; this says so at
# once if it did not, rather than as a timeout ten minutes later).
jobs_replicas() { # CONTAINER
  local members
  members=$("${DK[@]}" exec "$1" rabbitmqctl -q list_queues name members 2>&1) ||
    fail "rabbitmqctl list_queues on the cluster failed: $members"
  jobs_line=$(grep '^paperq\.jobs\s' <<<"$members" || true)
  for n in rabbit@rabbitmq rabbit@rabbitmq-2 rabbit@rabbitmq-3; do
    [[ "$jobs_line" == *"$n"* ]] || fail "paperq.jobs has no replica on $n: ${jobs_line:-not declared}"
  done
}
jobs_replicas "$rmq1"
say "paperq.jobs replicas before the kill: ${jobs_line#paperq.jobs}"
fake_control "{\"pass\": $CLUSTER_PASS}" COMPOSE_C
ccounts() {
  timeout 60 "${DK[@]}" exec "$cledger" paperq-ledger report --json 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["papers"]
print(p.get("total", 0), p.get("succeeded", 0), p.get("parked", 0))
' 2>/dev/null || true
}
t0=$(date +%s)
deadline=$((t0 + TIMEOUT))
cut=
last=
while :; do
  c=$(ccounts)
  read -r total succeeded parked <<<"${c:-0 0 0}"
  if [[ "$c" != "$last" ]]; then
    printf '   %4ds  total %s succeeded %s parked %s\n' "$(($(date +%s) - t0))" "$total" "$succeeded" "$parked"
    last=$c
  fi
  ((parked == 0 && succeeded <= CLUSTER_PAPERS)) || fail "cluster: parked $parked, succeeded $succeeded of $CLUSTER_PAPERS"
  if [[ -z "$cut" ]] && ((succeeded >= 8)); then
    ((succeeded < CLUSTER_PAPERS)) || fail "cluster: all $CLUSTER_PAPERS papers done before the kill"
    "${DK[@]}" kill "$rmq1" >/dev/null
    cut=$succeeded
    say "killed rabbitmq (the first address, where every program connected) at $succeeded/$CLUSTER_PAPERS"
    fake_control '{"hold": false}' COMPOSE_C
    stage_done "cluster: until kill"
  fi
  if [[ -n "$cut" ]] && ((total == CLUSTER_PAPERS && succeeded == CLUSTER_PAPERS)); then
    break
  fi
  (($(date +%s) < deadline)) || fail "cluster: $succeeded of $CLUSTER_PAPERS succeeded after $TIMEOUT s"
  sleep 1
done
for svc in ledger worker; do
  for id in $("${COMPOSE_C[@]}" ps -q "$svc"); do
    st=$(container_exit "$id")
    [[ "$st" == running* ]] || fail "cluster: $svc ${id:0:12} is $st after the node was killed"
    log=$("${DK[@]}" logs "$id" 2>&1)
    grep -q "broker: connected to rabbitmq-[23]" <<<"$log" ||
      fail "cluster: $svc ${id:0:12} never connected to another node"
  done
done
stage_done "cluster: until $CLUSTER_PAPERS succeeded"
# Every queue has a replica on each node (asked of a node still up).
rmq2=$("${COMPOSE_C[@]}" ps -q rabbitmq-2)
jobs_replicas "$rmq2"
say "paperq.jobs replicas: ${jobs_line#paperq.jobs}"
say "cluster profile: $CLUSTER_PAPERS papers succeeded once each; rabbitmq killed at $cut/$CLUSTER_PAPERS, every program moved to another node"
