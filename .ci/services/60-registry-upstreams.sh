#!/usr/bin/env bash
# Upstreams for the registry facade's tests and benchmark, all on loopback:
#   127.0.0.1:5010  docker-registry, htpasswd Basic auth (user upstream / upstream-s3cret), storage A
#   127.0.0.1:5011  docker-registry, `auth: token` (service imagegate-upstream), storage B
#   127.0.0.1:5012  its test token issuer (test/registry/support/token-issuer.ts; same user), GET /stats counts tokens
#   127.0.0.1:5013  nginx in front of 5010 that redirects blob GETs (307) to another host: 127.0.0.2:5015
#   127.0.0.1:5014  docker-registry, open, over storage A (the "storage" behind the redirects)
#   127.0.0.2:5015  nginx "storage host": proxies to 5014, refuses (400) any request carrying Authorization, as S3 does
#   127.0.0.1:5016  nginx in front of 5010 that redirects blob GETs with a RELATIVE Location (/_storage/…, served from 5014)
#   127.0.0.1:5017  docker-registry over storage A, htpasswd user AWS / the AWS stand-in's ECR password (an "ECR" upstream)
# Test images are copied from the open registry of 20-registries.sh (127.0.0.1:5000) to 5010 and 5011:
# test/busybox:1 (also :2, :3 and an OCI-format :oci) and test/large:1.
# Logs and storage under .ci/work/registry-upstreams/. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$PWD/.ci/work/registry-upstreams"
mkdir -p "$work"
user=upstream
password=upstream-s3cret

# shellcheck source=../lib/registry.sh
source .ci/lib/registry.sh
# registry NAME ADDR EXPECTED STORAGE AUTH_YAML (no access log: the benchmark goes through these)
registry() { start_registry "$work/$1" "$2" "$3" "$4" "$5" false; }

# --- token keys and issuer ----------------------------------------------------
if [ ! -s "$work/token-key.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/token-key.ec.pem" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$work/token-key.ec.pem" -out "$work/token-key.pem"
  openssl req -new -x509 -key "$work/token-key.pem" -out "$work/token-cert.pem" -days 3650 -subj /CN=imagegate-test-issuer 2>/dev/null
fi
if ! curl -s -m 2 -o /dev/null http://127.0.0.1:5012/stats; then
  nohup node_modules/.bin/tsx test/registry/support/token-issuer.ts 5012 "$work/token-key.pem" "$user" "$password" >>"$work/token-issuer.log" 2>&1 &
  echo $! >"$work/token-issuer.pid"
  for _ in $(seq 1 50); do curl -s -m 1 -o /dev/null http://127.0.0.1:5012/stats && break; sleep 0.2; done
  curl -s -m 2 -o /dev/null http://127.0.0.1:5012/stats || { echo "token issuer did not start" >&2; tail -20 "$work/token-issuer.log" >&2; exit 1; }
  echo "token issuer up on 127.0.0.1:5012"
fi

# --- registries ---------------------------------------------------------------
[ -s "$work/users.htpasswd" ] || htpasswd -Bbn "$user" "$password" >"$work/users.htpasswd"
registry htpasswd 127.0.0.1:5010 401 "$work/storage-a" "auth:
  htpasswd:
    realm: imagegate-upstream
    path: $work/users.htpasswd"
registry token 127.0.0.1:5011 401 "$work/storage-b" "auth:
  token:
    realm: http://127.0.0.1:5012/token
    service: imagegate-upstream
    issuer: imagegate-test-issuer
    rootcertbundle: $work/token-cert.pem"
registry storage 127.0.0.1:5014 200 "$work/storage-a" ""
# The AWS stand-in (testing/aws/stand-in.ts) hands out this ECR password for user AWS.
[ -s "$work/ecr.htpasswd" ] || htpasswd -Bbn AWS imagegate-standin-ecr-password >"$work/ecr.htpasswd"
registry ecr 127.0.0.1:5017 401 "$work/storage-a" "auth:
  htpasswd:
    realm: imagegate-ecr
    path: $work/ecr.htpasswd"

# --- nginx: redirecting fronts and the storage host --------------------------
if [ "$(status_of 127.0.0.1:5013)" != 401 ]; then
  mkdir -p "$work/nginx/tmp"
  cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_http_version 1.1;
  server {
    listen 127.0.0.1:5013;
    location ~ ^/v2/.+/blobs/sha256:[a-f0-9]+\$ {
      if (\$request_method = GET) { return 307 http://127.0.0.2:5015\$request_uri; }
      proxy_pass http://127.0.0.1:5010;
    }
    location / { proxy_pass http://127.0.0.1:5010; }
  }
  server {
    listen 127.0.0.2:5015;
    location / {
      if (\$http_authorization) { return 400 '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>'; }
      proxy_pass http://127.0.0.1:5014;
    }
  }
  server {
    listen 127.0.0.1:5016;
    absolute_redirect off;
    location ~ ^/v2/.+/blobs/sha256:[a-f0-9]+\$ {
      if (\$request_method = GET) { return 307 /_storage\$request_uri; }
      proxy_pass http://127.0.0.1:5010;
    }
    location /_storage/ { proxy_pass http://127.0.0.1:5014/; }
    location / { proxy_pass http://127.0.0.1:5010; }
  }
}
NGINX
  if [ -s "$work/nginx/nginx.pid" ] && kill -0 "$(cat "$work/nginx/nginx.pid")" 2>/dev/null; then
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s reload
  else
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
  fi
  wait_for 127.0.0.1:5013 401 "nginx redirecting front" "$work/nginx/error.log"
fi

# --- test images --------------------------------------------------------------
copy() { # SRC_REF DEST_HOST DEST_REF [extra skopeo flags]
  local src=$1 host=$2 dest=$3
  shift 3
  skopeo inspect --tls-verify=false --creds "$user:$password" --raw "docker://$host/$dest" >/dev/null 2>&1 && return 0
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds "$user:$password" "$@" \
    "docker://127.0.0.1:5000/$src" "docker://$host/$dest"
}
for host in 127.0.0.1:5010 127.0.0.1:5011; do
  for tag in 1 2 3; do copy test/busybox:1 "$host" "test/busybox:$tag"; done
  copy test/busybox:1 "$host" test/busybox:oci --format oci
  copy test/large:1 "$host" test/large:1
done
echo "registry upstreams ready (logs under $work)"
