#!/usr/bin/env bash
# One command: install what is needed, then start locallambda on 127.0.0.1:4566.
# Extra arguments go to `locallambda start` (e.g. --persistence on).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
exec "$ROOT/.venv/bin/locallambda" start "$@"
