#!/usr/bin/env bash
# Makes a Docker daemon answer for the test run, then builds the docker executor's test images
# when they are missing (scripts/build-test-images.sh). Installs nothing: scripts/bootstrap.sh
# apt-installs docker.io and debootstrap for the test run.
#
# No daemon answering and none configured (DOCKER_HOST unset): start `dockerd` in the background,
# logging to $LOCALLAMBDA_DOCKERD_LOG (default /var/log/dockerd.log), and wait until `docker info`
# works. Exits non-zero, with the reason and the daemon's last log lines, when that fails;
# scripts/test.sh then stops under CI=true and otherwise lets the docker tests skip.
#
# Then a second engine on a loopback TCP socket, standing in for a remote DOCKER_HOST
# (scripts/docker-remote-up.sh, the test images loaded into it). When it cannot start, CI=true
# fails; otherwise only the remote-engine tests skip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WAIT_S="${LOCALLAMBDA_DOCKERD_WAIT:-60}"

fail() {
  echo "docker-up: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "docker-up: CI=true: the docker executor's tests cannot run without a daemon" >&2
  fi
  exit 1
}

answers() { docker info >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 || fail "no docker CLI on this machine (scripts/bootstrap.sh installs docker.io)"

if ! answers; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    fail "DOCKER_HOST=$DOCKER_HOST does not answer"
  fi
  command -v dockerd >/dev/null 2>&1 || fail "no dockerd on this machine (scripts/bootstrap.sh installs docker.io)"
  [ "$(id -u)" = "0" ] || fail "no Docker daemon answers and only root can start dockerd here"
  log="${LOCALLAMBDA_DOCKERD_LOG:-/var/log/dockerd.log}"
  if ! touch "$log" 2>/dev/null; then
    log="${TMPDIR:-/tmp}/dockerd.log"
  fi
  echo "docker-up: starting dockerd (log: $log)"
  # Its own session: the daemon outlives this script and the test run's process group.
  setsid nohup dockerd >"$log" 2>&1 </dev/null &
  pid=$!
  deadline=$((SECONDS + WAIT_S))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2 || true
      fail "dockerd exited during startup"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$log" >&2 || true
      fail "dockerd did not answer within ${WAIT_S}s"
    fi
    sleep 0.5
  done
  echo "docker-up: dockerd is up (pid $pid)"
fi

"$ROOT/scripts/build-test-images.sh" || fail "the test images could not be built"

if ! "$ROOT/scripts/docker-remote-up.sh"; then
  [ "${CI:-}" = "true" ] && fail "the second (remote) Docker engine could not be started"
  echo "docker-up: no second Docker engine: the remote-engine tests will be skipped" >&2
fi
