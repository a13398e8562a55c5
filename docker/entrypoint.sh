#!/bin/sh
# paperq-entrypoint: the image's ENTRYPOINT. Runs one of the three programs
# (`paperq-entrypoint paperq-worker ARGS...`) after settling what compose
# cannot express: empty variables mean "use the default", a missing API key
# means a dry run, and PAPERQ_INPUT names the producer's input files.
# Never prints a secret.
set -eu

say() { printf 'paperq-entrypoint: %s\n' "$*" >&2; }

# Compose passes `VAR: ${VAR:-}` through as an empty string when .env leaves
# it blank; the programs would take "" as a value. Unset empty PAPERQ_* so the
# config file's default applies.
for var in $(env | sed -n 's/^\(PAPERQ_[A-Za-z0-9_]*\)=$/\1/p'); do
  unset "$var"
done

# `paperq-entrypoint healthcheck` (the image's HEALTHCHECK): meaningful for
# the ledger (its database opens and answers the report query); for the other
# programs, a running container is all there is to say.
if [ "${1:-}" = healthcheck ]; then
  case "$(tr '\0' ' ' </proc/1/cmdline 2>/dev/null)" in
    *paperq-ledger*serve*) exec paperq-ledger report --json >/dev/null ;;
    *) exit 0 ;;
  esac
fi

prog=${1:-paperq-worker}
[ $# -gt 0 ] && shift
case "$prog" in
  producer | worker | ledger) prog=paperq-$prog ;;
esac

# The API key variable the worker will read: translate.api_key_env, from the
# environment or the config file (default OPENROUTER_API_KEY).
key_env_name() {
  if [ -n "${PAPERQ_TRANSLATE_API_KEY_ENV:-}" ]; then
    printf '%s' "$PAPERQ_TRANSLATE_API_KEY_ENV"
    return
  fi
  awk '
    /^[[:space:]]*translate[[:space:]]*[:=]?[[:space:]]*\{/ { t = 1; next }
    t && /^[[:space:]]*\}/ { t = 0 }
    t && /^[[:space:]]*api_key_env[[:space:]]*=/ {
      if (match($0, /"[^"]*"/)) { print substr($0, RSTART + 1, RLENGTH - 2); exit }
    }' "${PAPERQ_CONFIG:-/etc/paperq/paperq.conf}" 2>/dev/null || true
}

if [ "$prog" = paperq-worker ] && [ -z "${PAPERQ_TRANSLATE_PROVIDER:-}" ]; then
  key_env=$(key_env_name)
  key_env=${key_env:-OPENROUTER_API_KEY}
  key=
  case "$key_env" in
    *[!A-Za-z0-9_]* | [0-9]*) say "translate.api_key_env \"$key_env\" is not a variable name" ;;
    *) eval "key=\${$key_env:-}" ;;
  esac
  if [ -z "$key" ]; then
    export PAPERQ_TRANSLATE_PROVIDER=dry-run
    say "################################################################"
    say "## DRY RUN: \$$key_env is empty, so no LLM is called and every"
    say "## translation is a placeholder marked dry_run. Put your key in"
    say "## .env ($key_env=...) and run docker compose up again."
    say "################################################################"
  fi
  unset key
fi

# Producer inputs: PAPERQ_INPUT is a space- or comma-separated list of files,
# directories (their *.jsonl and *.json) or glob patterns inside the
# container, e.g. /input or /input/2025-*.jsonl. Explicit --input wins, and
# `harvest` reads the Internet Archive, not files.
if [ "$prog" = paperq-producer ] && [ "${1:-}" != harvest ]; then
  explicit=0
  for a in "$@"; do
    case "$a" in
      -i | --input | --input=* | -i?* | -h | --help | -V | --version | --print-config) explicit=1 ;;
    esac
  done
  if [ "$explicit" = 0 ]; then
    inputs=$(printf '%s' "${PAPERQ_INPUT:-/usr/share/paperq/sample.jsonl}" | tr ',' ' ')
    args=
    n=0
    set -f # expand the patterns below ourselves, one at a time
    for pattern in $inputs; do
      set +f
      found=0
      for path in $pattern; do
        if [ -d "$path" ]; then
          for f in "$path"/*.jsonl "$path"/*.json; do
            [ -f "$f" ] || continue
            args="$args --input '$(printf '%s' "$f" | sed "s/'/'\\\\''/g")'"
            found=1
            n=$((n + 1))
          done
        elif [ -f "$path" ]; then
          args="$args --input '$(printf '%s' "$path" | sed "s/'/'\\\\''/g")'"
          found=1
          n=$((n + 1))
        fi
      done
      if [ "$found" = 0 ]; then
        say "PAPERQ_INPUT: nothing found at \"$pattern\" (is the folder mounted? see docker-compose.yml)"
        exit 2
      fi
      set -f
    done
    set +f
    if [ -n "${PAPERQ_LIMIT:-}" ]; then
      args="$args --limit '$(printf '%s' "$PAPERQ_LIMIT" | sed "s/'/'\\\\''/g")'"
    fi
    say "queueing $n input file(s) from ${PAPERQ_INPUT:-the bundled sample (200 papers)}"
    eval "set -- $args \"\$@\""
  fi
fi

exec "$prog" "$@"
