# Shared by the .ci/services scripts that start docker-registry instances.
# Source it; it defines:
#   status_of ADDR                 HTTP status of GET http://ADDR/v2/ (000 when nothing answers)
#   wait_for ADDR EXPECTED WHAT LOG  waits up to 10 s for that status, else prints LOG's tail and fails
#   start_registry DIR ADDR EXPECTED STORAGE AUTH_YAML [ACCESS_LOG]
#       starts /usr/bin/docker-registry on ADDR with its config and log (registry.log) in DIR,
#       storage in STORAGE, the given `auth:` YAML (may be empty), and the access log on unless
#       ACCESS_LOG is "false"; leaves a registry that already answers EXPECTED alone.

status_of() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$1/v2/" || true; }

wait_for() {
  local addr=$1 expected=$2 what=$3 log=$4
  for _ in $(seq 1 50); do
    [ "$(status_of "$addr")" = "$expected" ] && { echo "$what up on $addr"; return 0; }
    sleep 0.2
  done
  echo "$what did not start on $addr; last log lines:" >&2
  tail -20 "$log" >&2
  return 1
}

start_registry() {
  local dir=$1 addr=$2 expected=$3 storage=$4 auth_yaml=$5 access_log=${6:-true}
  local name
  name=$(basename "$dir")
  if [ "$(status_of "$addr")" = "$expected" ]; then
    echo "registry $name already answering on $addr"
    return 0
  fi
  mkdir -p "$dir" "$storage"
  local access_disabled=false level=info
  [ "$access_log" = false ] && { access_disabled=true; level=warn; }
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: $level
  formatter: text
  accesslog:
    disabled: $access_disabled
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $addr
  secret: imagegate-ci-$name
$auth_yaml
YAML
  nohup /usr/bin/docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 &
  echo $! >"$dir/pid"
  wait_for "$addr" "$expected" "registry $name (log $dir/registry.log)" "$dir/registry.log"
}
