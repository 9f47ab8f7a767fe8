#!/usr/bin/env bash
# Builds the Docker image the hostpatch tests boot as systemd "nodes":
# a Debian bookworm root filesystem made with debootstrap (systemd as PID 1,
# dbus, libstdc++ so the host's node binary can be mounted in), loaded with
# `docker import`. The rootfs tarball is cached outside the repository, so a
# second run only re-imports it (or does nothing when the image exists).
set -euo pipefail
IMAGE="${IMAGEGATE_NODE_IMAGE:-imagegate-ci/systemd-node:bookworm}"
CACHE="${IMAGEGATE_CI_CACHE:-/var/cache/imagegate-ci}"
TARBALL="$CACHE/systemd-node-bookworm.tar"
MIRROR="${IMAGEGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=systemd,systemd-sysv,dbus,libstdc++6

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "systemd node image $IMAGE already loaded"
  exit 0
fi

mkdir -p "$CACHE" .ci/work
if [ ! -s "$TARBALL" ]; then
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm into $root (log: .ci/work/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >.ci/work/debootstrap.log 2>&1; then
    echo "debootstrap failed; last log lines:" >&2
    tail -20 .ci/work/debootstrap.log >&2
    exit 1
  fi
  # Units that make no sense in a container and only slow boot or degrade it.
  for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
              systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
              getty.target console-getty.service systemd-logind.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  echo "imagegate-node" >"$root/etc/hostname"
  rm -rf "$root/var/cache/apt/archives/"*.deb
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi

docker import -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' "$TARBALL" "$IMAGE" >/dev/null
echo "systemd node image $IMAGE loaded from $TARBALL"
