#!/usr/bin/env bash
# Installs playwright-core (tests/site/package-lock.json, exact version) into
# DIR/node_modules for browser_check.mjs. It drives Debian's /usr/bin/chromium;
# no browser is downloaded (--ignore-scripts). Does nothing when up to date.
#   tests/site/install.sh DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:?usage: install.sh DIR}
stamp=$(sha256sum "$HERE/package-lock.json" | cut -c1-16)
if [[ -f "$DIR/.stamp" && $(cat "$DIR/.stamp") == "$stamp" ]]; then
  exit 0
fi
mkdir -p "$DIR"
cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
(cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$stamp" >"$DIR/.stamp"
