#!/bin/sh
# docker/Dockerfile's site-assets stage: puts KaTeX and MiniSearch (what
# `paperq-ledger export --site` copies into a site) in DEST, the first way
# that works, and says which:
#   1. PREPARED, the build context's site-assets/, when scripts/site-assets.sh
#      made it from this ledger/site/package-lock.json (run it on the host where
#      the image build cannot use the npm registry: no route, or a TLS proxy
#      the image does not trust);
#   2. scripts/site-assets.sh here: node and npm from Debian, the locked
#      versions from the npm registry, integrity-checked;
#   3. KaTeX from Debian's libjs-katex (0.16.4 in bookworm) and no MiniSearch:
#      the image still builds, and `export --site` says its search is a plain
#      scan. A warning in the build log says how to get both.
#
#   sh docker/site-assets.sh PREPARED DEST      (from /src, the stage's WORKDIR)
set -eu
prepared=$1
dest=$2
stamp=$(sha256sum ledger/site/package-lock.json | cut -c1-16)

if [ -f "$prepared/VERSIONS" ]; then
  if grep -q "lock $stamp" "$prepared/VERSIONS"; then
    mkdir -p "$dest"
    cp -r "$prepared/katex" "$prepared/minisearch" "$prepared/VERSIONS" "$dest/"
    echo "site assets: site-assets/ from the build context: $(tr '\n' ' ' <"$dest/VERSIONS")"
    exit 0
  fi
  echo "site assets: site-assets/ in the build context was made from another package-lock.json; not used" >&2
fi

# ca-certificates too: Debian's node trusts the system's CA store, and npm's
# dependencies only recommend it. One retry and a 60 s fetch timeout: where
# the registry is out of reach, fall back in a minute or two, not after npm's
# default quarter of an hour.
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates nodejs npm
if npm_config_fetch_retries=1 npm_config_fetch_timeout=60000 bash scripts/site-assets.sh "$dest"; then
  exit 0
fi

cat >&2 <<'MSG'
WARNING: npm could not fetch KaTeX and MiniSearch in this image build (above).
WARNING: Using KaTeX from Debian's libjs-katex and no MiniSearch: sites exported
WARNING: from this image render formulas but search by a plain scan. To get both,
WARNING: run scripts/site-assets.sh on this machine, then build again.
MSG
rm -rf "$dest"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libjs-katex
k=/usr/share/javascript/katex
mkdir -p "$dest/katex/contrib"
cp "$k/katex.min.js" "$k/katex.min.css" "$dest/katex/"
cp -rL "$k/fonts" "$dest/katex/fonts" # a link to fonts-katex's files
# Debian ships it unminified only; export --site looks for this name.
cp "$k/contrib/auto-render.js" "$dest/katex/contrib/auto-render.min.js"
cp /usr/share/doc/libjs-katex/copyright "$dest/katex/LICENSE"
echo "katex $(dpkg-query -W -f '${Version}' libjs-katex) (Debian libjs-katex; no MiniSearch)" >"$dest/VERSIONS"
echo "site assets: $(cat "$dest/VERSIONS")"
