#!/usr/bin/env bash
# Starts two docker-registry servers on loopback and pushes the test images to
# both, built locally (no outside registry is ever reached):
#   127.0.0.1:5000  open
#   127.0.0.1:5001  htpasswd Basic auth, user kubelet / password kubelet-s3cret
# Each registry has its own storage and log under .ci/work/registry-<name>/;
# the log holds the access log, so a test can count requests on the registry
# side. Safe to run twice: a registry that already answers is left alone, and
# images already present in both registries are not rebuilt.
# The image names are listed in testing/services.ts (testImages).
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$PWD/.ci/work"
mkdir -p "$work"

user=kubelet
password=kubelet-s3cret

# shellcheck source=../lib/registry.sh
source .ci/lib/registry.sh

# A Debian install may start its own docker-registry service on :5000 with the
# packaged configuration; ours must own both ports.
if [ "$(status_of 127.0.0.1:5000)" = 401 ] || { [ "$(status_of 127.0.0.1:5000)" != 000 ] && ! pgrep -f "$work/registry-open/config.yml" >/dev/null; }; then
  (systemctl stop docker-registry || service docker-registry stop) >/dev/null 2>&1 || true
fi

[ -s "$work/registry-htpasswd/htpasswd" ] || { mkdir -p "$work/registry-htpasswd"; htpasswd -Bbn "$user" "$password" >"$work/registry-htpasswd/htpasswd"; }
start_registry "$work/registry-open" 127.0.0.1:5000 200 "$work/registry-open/data" ""
start_registry "$work/registry-htpasswd" 127.0.0.1:5001 401 "$work/registry-htpasswd/data" "auth:
  htpasswd:
    realm: imagegate-test
    path: $work/registry-htpasswd/htpasswd"

# --- test images -------------------------------------------------------------
# name|Dockerfile body after FROM (the LABEL makes each image's ID distinct)
images=(
  "busybox:1|"
  "user-uid:1|USER 1002"
  "user-name:1|USER www-data"
  "user-uid-group:1|USER 1003:1003"
  "tagless:latest|"
  "multi:a|"
  "remove:1|"
  "concurrent:1|"
  "auth:1|"
  "large:1|COPY random.bin /data/random.bin"
)
extra_tags=("multi:b multi:c" "remove:2")

export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG"
echo "$password" | docker login -u "$user" --password-stdin 127.0.0.1:5001 >/dev/null 2>&1

in_registry() { # registry repo:tag → true when the manifest exists
  local repo=${2%%:*} tag=${2#*:}
  curl -sf -o /dev/null -m 5 -u "$user:$password" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$1/v2/test/$repo/manifests/$tag"
}

all_present=true
for entry in "${images[@]}" "multi:b" "multi:c" "remove:2"; do
  ref=${entry%%|*}
  for reg in 127.0.0.1:5000 127.0.0.1:5001; do
    in_registry "$reg" "$ref" || all_present=false
  done
done
if $all_present; then
  echo "test images already in both registries"
  exit 0
fi

build="$work/images"
rm -rf "$build"
mkdir -p "$build/rootfs"/{bin,etc,tmp,root,home/www-data,data}
cp /bin/busybox "$build/rootfs/bin/busybox"
for applet in sh ls cat echo id sleep true; do ln -sf busybox "$build/rootfs/bin/$applet"; done
cat >"$build/rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/home/www-data:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
PASSWD
cat >"$build/rootfs/etc/group" <<'GROUP'
root:x:0:
www-data:x:33:
nogroup:x:65534:
GROUP
tar -C "$build/rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - imagegate-ci/base:1 >/dev/null
head -c 16777216 /dev/urandom >"$build/random.bin"

for entry in "${images[@]}"; do
  ref=${entry%%|*} body=${entry#*|}
  printf 'FROM imagegate-ci/base:1\nLABEL imagegate.test=%s\n%s\n' "$ref" "$body" >"$build/Dockerfile"
  docker build -q -t "127.0.0.1:5000/test/$ref" "$build" >/dev/null 2>"$build/build.err" || { cat "$build/build.err" >&2; exit 1; }
  docker tag "127.0.0.1:5000/test/$ref" "127.0.0.1:5001/test/$ref"
done
for pair in "multi:a multi:b" "multi:a multi:c" "remove:1 remove:2"; do
  set -- $pair
  for reg in 127.0.0.1:5000 127.0.0.1:5001; do docker tag "$reg/test/$1" "$reg/test/$2"; done
done
for entry in "${images[@]}" "multi:b|" "multi:c|" "remove:2|"; do
  ref=${entry%%|*}
  for reg in 127.0.0.1:5000 127.0.0.1:5001; do
    docker push -q "$reg/test/$ref" >/dev/null
  done
done
rm -rf "$build"
echo "test images pushed to 127.0.0.1:5000 and 127.0.0.1:5001"
