#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io when docker is missing and
# starts dockerd in the background (log: .tempera/dockerd.log) when its socket does not answer.
# Idempotent and quick when the engine already runs. Exits non-zero when no engine can be had.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[tempera] %s\n' "$*" >&2; }
root() { [ "$(id -u)" = 0 ]; }

if docker info >/dev/null 2>&1; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && root; then
    say "installing docker.io from Debian's packages"
    (apt-get install -y -qq docker.io >/dev/null 2>&1) \
      || (apt-get update -qq >/dev/null && apt-get install -y -qq docker.io >/dev/null)
  else
    say "the container tests need a Docker engine: install docker.io (apt-get install docker.io)"
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if ! root; then
    say "dockerd is not running and this user cannot start it: start the Docker engine"
    exit 1
  fi
  mkdir -p .tempera
  # A socket left by a dead daemon keeps a new one from starting.
  if [ -S /var/run/docker.sock ] && ! pgrep -x dockerd >/dev/null 2>&1; then rm -f /var/run/docker.sock; fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd (log: .tempera/dockerd.log)"
    command -v containerd >/dev/null 2>&1 || true
    nohup dockerd >.tempera/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then break; fi
    sleep 1
  done
fi

if ! docker info >/dev/null 2>&1; then
  say "the Docker engine does not answer after 60 s; see .tempera/dockerd.log:"
  tail -n 20 .tempera/dockerd.log >&2 2>/dev/null || true
  exit 1
fi
