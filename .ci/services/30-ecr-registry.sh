#!/usr/bin/env bash
# Starts a docker-registry on 127.0.0.1:5002 standing in for an ECR registry:
# htpasswd Basic auth that accepts ONLY user AWS with the AWS stand-in's
# deterministic ECR password (test/aws/stand-in.ts, STANDIN_ECR_PASSWORD), so a
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

status_of() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$1/v2/" || true; }

if [ "$(status_of "$addr")" = 401 ]; then
  echo "ECR-like registry already answering on $addr"
else
  mkdir -p "$dir/data"
  htpasswd -Bbn "$user" "$password" >"$dir/htpasswd"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
  secret: imagegate-ci-ecr
auth:
  htpasswd:
    realm: imagegate-ecr-test
    path: $dir/htpasswd
YAML
  nohup /usr/bin/docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 50); do
    [ "$(status_of "$addr")" = 401 ] && break
    sleep 0.2
  done
  if [ "$(status_of "$addr")" != 401 ]; then
    echo "ECR-like registry did not start on $addr; last log lines:" >&2
    tail -20 "$dir/registry.log" >&2
    exit 1
  fi
  echo "ECR-like registry up on $addr (log $dir/registry.log)"
fi

if curl -sf -o /dev/null -m 5 -u "$user:$password" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$addr/v2/${image%%:*}/manifests/${image#*:}"; then
  echo "$image already in $addr"
  exit 0
fi
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds "$user:$password" \
  "docker://127.0.0.1:5000/$image" "docker://$addr/$image"
echo "$image copied to $addr"
