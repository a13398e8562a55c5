#!/usr/bin/env bash
# Installs what `paperq-ledger export --site` copies into a site: KaTeX (formula
# rendering) and MiniSearch (client-side search), from the npm registry, at the
# exact versions of ledger/site/package-lock.json (npm ci checks each
# tarball's integrity hash). Nothing is fetched by the browser later: the site
# works offline and from disk.
#
#   scripts/site-assets.sh [DEST]     default DEST: site-assets (= site.assets_dir)
#
# Needs node and npm (Debian's nodejs/npm packages; installed with apt-get when
# missing). Running it again with the same lock file does nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-site-assets}
LOCK="$ROOT/ledger/site/package-lock.json"

if ! command -v npm >/dev/null 2>&1; then
  echo "site-assets.sh: installing node and npm (apt-get)" >&2
  SUDO=()
  [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi

stamp=$(sha256sum "$LOCK" | cut -c1-16)
if [[ -f "$DEST/VERSIONS" ]] && grep -q "lock $stamp" "$DEST/VERSIONS"; then
  echo "site-assets.sh: $DEST is up to date (lock $stamp)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/paperq-site-assets.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$ROOT/ledger/site/package.json" "$LOCK" "$work/"
# --ignore-scripts: nothing from the registry runs here; we only copy files.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

new="$DEST.new.$$"
rm -rf "$new"
mkdir -p "$new/katex/contrib" "$new/minisearch"
k="$work/node_modules/katex"
m="$work/node_modules/minisearch"
cp "$k/dist/katex.min.js" "$k/dist/katex.min.css" "$new/katex/"
cp -r "$k/dist/fonts" "$new/katex/"
cp "$k/dist/contrib/auto-render.min.js" "$new/katex/contrib/"
cp "$k/LICENSE" "$new/katex/LICENSE"
cp "$m/dist/umd/index.js" "$new/minisearch/minisearch.js"
cp "$m/LICENSE.txt" "$new/minisearch/LICENSE" 2>/dev/null || cp "$m"/LICENSE* "$new/minisearch/LICENSE"
{
  echo "lock $stamp"
  echo "katex $(node -p "require('$k/package.json').version")"
  echo "minisearch $(node -p "require('$m/package.json').version")"
} >"$new/VERSIONS"
rm -rf "$DEST"
mv "$new" "$DEST"
echo "site-assets.sh: installed $(tr '\n' ' ' <"$DEST/VERSIONS")into $DEST"
