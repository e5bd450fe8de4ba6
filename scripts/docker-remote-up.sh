#!/usr/bin/env bash
# Makes a SECOND Docker engine answer on a loopback TCP socket, standing in for a remote
# DOCKER_HOST in the docker executor's tests (tests/executors/test_docker_remote.py), and loads
# the test images into it from the first engine (docker save | docker load: nothing is rebuilt).
# Called by scripts/docker-up.sh once the first engine and its test images are ready.
#
# The second engine has everything of its own: --data-root, --exec-root (its containerd too),
# --pidfile, and listens only on tcp://127.0.0.1:$LOCALLAMBDA_DOCKER2_PORT (default 23750; no
# TLS, loopback only: whoever reaches that port is root on this machine). It must not fight the
# first engine over docker0 or the NAT table: no iptables rules, and a bridge of its own
# ($LOCALLAMBDA_DOCKER2_BRIDGE, default lldocker2, $LOCALLAMBDA_DOCKER2_BIP, default
# 172.31.250.1/24), made here — not `--bridge none`, with which dockerd deletes docker0, the
# first engine's bridge, at start. The tests run containers with host networking
# (LAMBDA_DOCKER_NETWORK=host), as an engine on this machine allows.
#
# Prints the engine's address (DOCKER_HOST=tcp://…) on its last line. Exits non-zero, with the
# reason and the daemon's last log lines, when the engine cannot be started or loaded.
# LOCALLAMBDA_DOCKER2_STOP=1 stops a second engine this script started (by its pidfile) instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${LOCALLAMBDA_DOCKER2_PORT:-23750}"
ADDRESS="tcp://127.0.0.1:$PORT"
DATA_ROOT="${LOCALLAMBDA_DOCKER2_ROOT:-/var/lib/locallambda-docker2}"
EXEC_ROOT="${LOCALLAMBDA_DOCKER2_EXEC_ROOT:-/var/run/locallambda-docker2}"
PIDFILE="$EXEC_ROOT.pid"
WAIT_S="${LOCALLAMBDA_DOCKERD_WAIT:-90}"
BRIDGE="${LOCALLAMBDA_DOCKER2_BRIDGE:-lldocker2}"
BIP="${LOCALLAMBDA_DOCKER2_BIP:-172.31.250.1/24}"
IMAGES=(locallambda-test/python:3.11 locallambda-test/image-fn:latest)

fail() {
  echo "docker-remote-up: $*" >&2
  exit 1
}

second() { DOCKER_HOST="$ADDRESS" docker "$@"; }
answers() { second info >/dev/null 2>&1; }

if [ "${LOCALLAMBDA_DOCKER2_STOP:-0}" = "1" ]; then
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    echo "docker-remote-up: stopped the engine at $ADDRESS"
  fi
  exit 0
fi

command -v docker >/dev/null 2>&1 || fail "no docker CLI on this machine (scripts/bootstrap.sh installs docker.io)"
# The first engine (DOCKER_HOST as given, or the default socket) holds the images to load.
docker info >/dev/null 2>&1 || fail "the first Docker engine does not answer (scripts/docker-up.sh starts it)"

if ! answers; then
  command -v dockerd >/dev/null 2>&1 || fail "no dockerd on this machine"
  [ "$(id -u)" = "0" ] || fail "only root can start a second dockerd here"
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    fail "a dockerd (pid $(cat "$PIDFILE")) holds $PIDFILE but $ADDRESS does not answer"
  fi
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  command -v ip >/dev/null 2>&1 || fail "no ip command (iproute2) to make the bridge $BRIDGE"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge || fail "could not make the bridge $BRIDGE"
    ip addr add "$BIP" dev "$BRIDGE" || fail "could not give $BRIDGE the address $BIP"
  fi
  ip link set "$BRIDGE" up || fail "could not bring $BRIDGE up"
  log="${LOCALLAMBDA_DOCKERD2_LOG:-/var/log/dockerd-locallambda2.log}"
  if ! touch "$log" 2>/dev/null; then
    log="${TMPDIR:-/tmp}/dockerd-locallambda2.log"
  fi
  echo "docker-remote-up: starting a second dockerd at $ADDRESS (log: $log)"
  # Its own session: the daemon outlives this script and the test run's process group.
  setsid nohup dockerd \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" \
    -H "$ADDRESS" \
    --bridge "$BRIDGE" \
    --iptables=false \
    --ip-masq=false \
    --ip-forward=false \
    >"$log" 2>&1 </dev/null &
  pid=$!
  deadline=$((SECONDS + WAIT_S))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2 || true
      fail "the second dockerd exited during startup"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$log" >&2 || true
      fail "the second dockerd did not answer within ${WAIT_S}s"
    fi
    sleep 0.5
  done
  echo "docker-remote-up: the second dockerd is up (pid $pid)"
fi

# The test images, as the first engine has them: loaded when missing or different there.
missing=()
for image in "${IMAGES[@]}"; do
  want="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" || fail "the first engine lacks $image (scripts/build-test-images.sh)"
  have="$(second image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  [ "$want" = "$have" ] || missing+=("$image")
done
if [ ${#missing[@]} -gt 0 ]; then
  started=$SECONDS
  docker save "${missing[@]}" | second load -q >/dev/null || fail "could not load ${missing[*]} into $ADDRESS"
  echo "docker-remote-up: loaded ${missing[*]} ($((SECONDS - started)) s)"
fi
echo "DOCKER_HOST=$ADDRESS"
