#!/usr/bin/env bash
# Copies MathJax from its npm package into docs/assets/mathjax/, so the site renders math with
# no network: the combined TeX+CHTML build, its fonts (loaded relative to the script) and the licence.
# Usage: scripts/vendor_mathjax.sh [version]   (needs npm; the copy is committed)
set -euo pipefail
version="${1:-3.2.2}"
dest="$(cd "$(dirname "$0")/.." && pwd)/docs/assets/mathjax"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "mathjax@$version" >/dev/null && tar xzf "mathjax-$version.tgz")
rm -rf "$dest"
mkdir -p "$dest/output/chtml/fonts"
cp "$tmp/package/es5/tex-mml-chtml.js" "$dest/"
cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "MathJax $version from the npm package mathjax@$version, copied by scripts/vendor_mathjax.sh" > "$dest/VERSION"
