#!/usr/bin/env bash
# Starts a Redis server (Debian redis-server) on 127.0.0.1:6390 for the
# registry facade's shared login limits (`rateLimit.store: redis://…`).
# Loopback only, no persistence, its own directory under .ci/work/redis/.
# Idempotent: exits at once when it already answers. Tests that stop Redis
# start their own instance on another port (test/registry/support/redis.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
port=6390
work=$PWD/.ci/work/redis
if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then echo "redis already answering on 127.0.0.1:$port"; exit 0; fi
mkdir -p "$work"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log" --protected-mode yes
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then echo "redis answering on 127.0.0.1:$port"; exit 0; fi
  sleep 0.1
done
echo "redis did not start on 127.0.0.1:$port; see $work/redis.log" >&2
exit 1
