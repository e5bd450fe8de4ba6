#!/usr/bin/env bash
# One command: install what is needed (Python packages, Debian packages, a Docker engine) and
# run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LOCALLAMBDA_WITH_TEST_TOOLS=1
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
# The second Docker engine scripts/docker-up.sh starts (scripts/docker-remote-up.sh), for
# tests/executors/test_docker_remote.py.
export LOCALLAMBDA_DOCKER2_PORT="${LOCALLAMBDA_DOCKER2_PORT:-23750}"
export LOCALLAMBDA_TEST_DOCKER_REMOTE="tcp://127.0.0.1:$LOCALLAMBDA_DOCKER2_PORT"
if [ -x scripts/docker-up.sh ]; then
  scripts/docker-up.sh || { [ "${CI:-}" = "true" ] && exit 1; echo "docker not available: docker tests will be skipped"; }
fi
set +e
code=0
if [ $# -eq 0 ] && command -v bwrap >/dev/null 2>&1; then
  # The invoke tests again, in the sandbox executor: the same behaviour must hold isolated.
  echo "== tests/invoke in the sandbox executor"
  LOCALLAMBDA_TEST_EXECUTOR=sandbox .venv/bin/python -m pytest -q -rf -p no:cacheprovider tests/invoke || code=$?
  echo "== the whole suite"
fi
if [ $# -eq 0 ]; then
  # The whole suite, with coverage measured in this process and in every server it starts
  # (coverage's subprocess patch); the figures are printed at the end.
  rm -rf .coverage-data && mkdir -p .coverage-data
  .venv/bin/python -m coverage run -m pytest -q -rf -p no:cacheprovider || code=$?
  .venv/bin/python -m coverage combine -q >/dev/null 2>&1 || true
  echo "== coverage of src/locallambda (whole suite, servers included)"
  .venv/bin/python -m coverage report --sort=cover 2>/dev/null | tail -25 || true
else
  .venv/bin/python -m pytest -q -rf -p no:cacheprovider "$@" || code=$?
fi
set -e
# pytest exits 5 when it collected no test: that is a failure of this suite, not a pass.
exit $code
