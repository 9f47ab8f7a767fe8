#!/usr/bin/env bash
# Starts Docker Engine when it is not answering, and waits for it.
set -euo pipefail
if docker info >/dev/null 2>&1; then echo "dockerd already running"; exit 0; fi
mkdir -p .ci/work
nohup dockerd >.ci/work/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "dockerd up"; exit 0; }
  sleep 1
done
echo "dockerd did not start; last log lines:" >&2
tail -20 .ci/work/dockerd.log >&2
exit 1
