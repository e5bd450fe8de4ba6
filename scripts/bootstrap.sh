#!/usr/bin/env bash
# Installs what locallambda needs on a fresh Debian/Ubuntu machine (idempotent):
# a virtualenv in .venv with the package and its test tools, and the Debian packages the
# runtimes, executors and benchmarks use. Sourced by scripts/start.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v zip >/dev/null 2>&1 || need_apt+=(zip)
if [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
  command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "warning: missing ${need_apt[*]} and cannot apt-get install them (not root?)" >&2
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi
