#!/usr/bin/env bash
# Starts a docker-registry on 127.0.0.1:5002 standing in for an ECR registry:
# htpasswd Basic auth that accepts ONLY user AWS with the AWS stand-in's
# deterministic ECR password (testing/aws/stand-in.ts, STANDIN_ECR_PASSWORD), so a
# pull there succeeds only with a token minted through the stand-in.
# Copies test/busybox:1 from the open registry (20-registries.sh) with skopeo.
# Storage and log under .ci/work/registry-ecr/. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="$PWD/.ci/work/registry-ecr"
addr=127.0.0.1:5002
user=AWS
password=imagegate-standin-ecr-password
image=test/busybox:1

# shellcheck source=../lib/registry.sh
source .ci/lib/registry.sh

[ -s "$dir/htpasswd" ] || { mkdir -p "$dir"; htpasswd -Bbn "$user" "$password" >"$dir/htpasswd"; }
start_registry "$dir" "$addr" 401 "$dir/data" "auth:
  htpasswd:
    realm: imagegate-ecr-test
    path: $dir/htpasswd"

if curl -sf -o /dev/null -m 5 -u "$user:$password" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$addr/v2/${image%%:*}/manifests/${image#*:}"; then
  echo "$image already in $addr"
  exit 0
fi
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds "$user:$password" \
  "docker://127.0.0.1:5000/$image" "docker://$addr/$image"
echo "$image copied to $addr"
