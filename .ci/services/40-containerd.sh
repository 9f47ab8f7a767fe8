#!/usr/bin/env bash
# Starts a containerd of imagegate's own, with its CRI plugin, for the `cri`
# backend's tests and benchmark. It has its own root, state, socket and config,
# so it never touches the containerd that Docker Engine runs. A hosts.toml per
# loopback registry lets it pull over plain HTTP. Safe to run twice.
#
# Override the locations with IMAGEGATE_CI_CONTAINERD_{ROOT,STATE,SOCKET}.
set -euo pipefail
cd "$(dirname "$0")/../.."

root="${IMAGEGATE_CI_CONTAINERD_ROOT:-/var/lib/imagegate-ci/containerd}"
state="${IMAGEGATE_CI_CONTAINERD_STATE:-/run/imagegate-ci/containerd/state}"
socket="${IMAGEGATE_CI_CONTAINERD_SOCKET:-/run/imagegate-ci/containerd/containerd.sock}"
work="$PWD/.ci/work/containerd"
config="$work/config.toml"
hosts="$work/certs.d"
log="$PWD/.ci/work/containerd.log"
pidfile="$work/containerd.pid"

# Loopback registries this containerd may pull from over HTTP: the CI's open
# (5000), htpasswd (5001) and spare (5002) registries, plus 5050-5059 for
# relays the tests put in front of them.
registry_ports="5000 5001 5002 $(seq -s ' ' 5050 5059)"

# Up means containerd answers AND its CRI plugin loaded (the tests talk CRI).
answers() { [ -S "$socket" ] && timeout 5 ctr --address "$socket" --connect-timeout 2s plugins ls 2>/dev/null | grep -Eq '^io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*[[:space:]]ok[[:space:]]*$'; }

mkdir -p "$root" "$state" "$(dirname "$socket")" "$work" "$hosts"

for port in $registry_ports; do
  for host in "127.0.0.1:$port" "localhost:$port"; do
    mkdir -p "$hosts/$host"
    cat >"$hosts/$host/hosts.toml" <<EOF
server = "http://$host"

[host."http://$host"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
  done
done

snapshotter=overlayfs
probe="$work/overlay-probe"
mkdir -p "$probe"/{lower,upper,work,merged}
if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
  umount "$probe/merged"
else
  snapshotter=native
fi
rm -rf "$probe"

cat >"$config" <<EOF
version = 2
root = "$root"
state = "$state"
# Plugins that would clash with Docker's containerd or need what CI lacks.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "$socket"

[ttrpc]
  address = "$socket.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  sandbox_image = "registry.k8s.io/pause:3.9"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "$snapshotter"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$work/cni/bin"
  conf_dir = "$work/cni/conf"

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "$hosts"
EOF

if answers; then
  echo "imagegate containerd already running at $socket"
  exit 0
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill "$(cat "$pidfile")" 2>/dev/null || true
  sleep 1
fi
rm -f "$socket" "$socket.ttrpc"
nohup containerd --config "$config" >>"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 60); do
  if answers; then
    echo "imagegate containerd up at $socket (snapshotter $snapshotter)"
    exit 0
  fi
  sleep 0.5
done
echo "imagegate containerd did not start; last log lines:" >&2
tail -30 "$log" >&2
exit 1
