#!/usr/bin/env bash
# Installs what locallambda needs on a fresh Debian/Ubuntu machine (idempotent):
# a virtualenv in .venv with the package (and its test tools with LOCALLAMBDA_WITH_TEST_TOOLS=1),
# the Debian packages the runtimes, executors and benchmarks use, and in .venv/node-runtime the
# AWS SDK for JavaScript v3 that Node.js functions find in /var/runtime/node_modules; the Python
# packages and the SDK install side by side, each step timed. Sourced by scripts/start.sh and
# scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v zip >/dev/null 2>&1 || need_apt+=(zip)
if [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
  command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
  command -v jq >/dev/null 2>&1 || need_apt+=(jq)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the dashboard tests (Playwright drives it)
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
# Progress: one line per phase, with its time (microseconds from bash's EPOCHREALTIME).
_now() { local t="${EPOCHREALTIME:-$SECONDS.000000}"; echo "${t//[.,]/}"; }
_since() { local d=$(( ($(_now) - $1) / 100000 )); printf '%d.%d s' $((d / 10)) $((d % 10)); }
boot_started=$(_now)
installed=""

# What running needs (the package and its dependencies) for scripts/start.sh; the test tools too
# (pytest, boto3, the AWS CLI, mypy, ...) for scripts/test.sh. A test install serves a start too.
hash="$(sha256sum pyproject.toml | cut -c1-16)"
test_stamp=".venv/.installed-test-$hash"
run_stamp=".venv/.installed-run-$hash"
if [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ]; then
  wanted="$test_stamp" spec='.[test]' what="locallambda and its test tools"
else
  wanted="$run_stamp" spec='.' what="locallambda (what running needs)"
fi

# The SDK that AWS's nodejs18.x and later bundle in /var/runtime/node_modules, as the server
# expects it (Settings.nodejs_runtime_dir, LOCALLAMBDA_NODEJS_RUNTIME_DIR): the clients named in
# scripts/node-runtime/package.json at the versions its lock file pins, without dev
# dependencies. Installed beside, then swapped in; the type declarations (dist-types) are
# dropped, as AWS's images drop them, since nothing loads them at run time. It runs in the
# background while the Python packages install (both are mostly downloads); its output goes to
# a log that is shown only when it fails. Without npm, Node.js functions still run, without the SDK.
node_runtime=.venv/node-runtime
node_stamp="$node_runtime/.installed-$(cat scripts/node-runtime/package.json scripts/node-runtime/package-lock.json | sha256sum | cut -c1-16)"
node_pid=""
if [ ! -f "$node_stamp" ] || { [ ! -f "$wanted" ] && [ ! -f "$test_stamp" ]; }; then
  echo "installing what is missing into .venv (first time only; each step timed, Python and Node.js side by side)"
fi
if [ ! -f "$node_stamp" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "  node:   the AWS SDK for JavaScript v3 for Node.js functions -> $node_runtime (npm ci, alongside)"
    mkdir -p .venv
    node_log=.venv/node-runtime.log
    (
      set -e
      started=$(_now)
      rm -rf "$node_runtime.new"
      mkdir -p "$node_runtime.new"
      cp scripts/node-runtime/package.json scripts/node-runtime/package-lock.json "$node_runtime.new/"
      (cd "$node_runtime.new" && npm ci --omit=dev --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
      find "$node_runtime.new/node_modules" -type d -name dist-types -prune -exec rm -rf {} +
      rm -rf "$node_runtime"
      mv "$node_runtime.new" "$node_runtime"
      touch "$node_stamp"
      echo "  node:   AWS SDK for JavaScript v3 installed: $(du -sh "$node_runtime/node_modules" | cut -f1) in $(_since "$started")"
    ) >"$node_log" 2>&1 &
    node_pid=$! installed=1
  else
    echo "warning: npm is missing: Node.js functions will not find the AWS SDK v3 in /var/runtime" >&2
  fi
fi

# uv installs (parallel downloads, about a quarter of pip's CPU time), pip where uv cannot be
# had (it compiles the bytecode itself). uv reads none of pip's configuration, so the index,
# extra indexes, find-links, constraints and certificate pip is configured with (its files and
# PIP_* variables, as `pip config list` shows them; the last one of a key wins, as in pip) are
# passed on; with several indexes, the best version from any of them, as pip chooses.
uv_index_args() {
  local line key value
  local -A seen=()
  while IFS= read -r line; do
    key="${line%%=*}" value="${line#*=}"
    value="${value#\'}" value="${value%\'}"
    seen["${key#*.}"]="$value"
  done < <("$PY" -m pip config list 2>/dev/null)
  [ -n "${seen[index-url]:-}" ] && printf '%s\n' --index-url "${seen[index-url]}"
  for value in ${seen[extra-index-url]:-}; do printf '%s\n' --extra-index-url "$value"; done
  for value in ${seen[find-links]:-}; do printf '%s\n' --find-links "$value"; done
  for value in ${seen[constraint]:-}; do printf '%s\n' --constraints "$value"; done
  printf '%s\n' --index-strategy unsafe-best-match
  if [ -n "${seen[cert]:-}" ] && [ -z "${SSL_CERT_FILE:-}" ]; then printf '%s\n' "cert=${seen[cert]}"; fi
}

# uv: one on PATH, else its wheel installed into .venv by the interpreter's own pip (or, without
# one, by the pip of a virtualenv made with it).
find_uv() {
  if [ -x .venv/bin/uv ]; then echo .venv/bin/uv; return 0; fi
  if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
  if [ -x .venv/bin/pip ]; then
    .venv/bin/pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
  else
    "$PY" -m pip --python .venv/bin/python install -q --disable-pip-version-check uv >/dev/null 2>&1 \
      || { "$PY" -m venv .venv >/dev/null 2>&1 && .venv/bin/pip install -q --disable-pip-version-check uv >/dev/null 2>&1; } \
      || true
  fi
  [ -x .venv/bin/uv ] && echo .venv/bin/uv
}

if [ ! -f "$wanted" ] && [ ! -f "$test_stamp" ]; then
  echo "  python: $what"
  py_started=$(_now)
  if [ ! -x .venv/bin/python ]; then
    # no pip of its own yet: uv installs it with the rest (sam build and scripts use python -m pip)
    "$PY" -m venv --without-pip .venv
    echo "  python: virtualenv .venv ($("$PY" -V 2>&1)) in $(_since "$py_started")"
  fi
  step=$(_now)
  uv="$(find_uv || true)"
  if [ -n "$uv" ]; then
    echo "  python: $("$uv" --version | cut -d' ' -f1-2) ready in $(_since "$step")"
    step=$(_now)
    uv_args=()
    uv_env=()
    while IFS= read -r arg; do
      case "$arg" in cert=*) uv_env+=("SSL_CERT_FILE=${arg#cert=}") ;; *) uv_args+=("$arg") ;; esac
    done < <(uv_index_args)
    # Bytecode (~8 CPU-seconds): a start does not wait for it; it is compiled in the background
    # at low priority once the packages are in (what the server imports before is compiled as
    # it loads). A test install compiles it first: the suite starts hundreds of servers, and
    # with PYTHONDONTWRITEBYTECODE set no import would ever store it.
    compile=()
    [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ] && compile=(--compile-bytecode)
    # uv's summary lines (resolved; prepared: downloaded and unpacked; installed), not the list
    # of packages; all of its output when it fails.
    env "${uv_env[@]}" "$uv" pip install --python .venv/bin/python --no-progress "${compile[@]}" "${uv_args[@]}" -e "$spec" pip 2>&1 \
      | tee .venv/install.log | awk '/^(Resolved|Prepared|Installed|Uninstalled|Audited|Bytecode compiled) / {
          print "  python: " tolower(substr($0, 1, 1)) substr($0, 2); fflush() }'
    if [ "${PIPESTATUS[0]}" != "0" ]; then
      cat .venv/install.log >&2
      echo "  python: uv could not install $spec (above); pip tries instead" >&2
      uv=""
    elif [ ${#compile[@]} -eq 0 ]; then
      echo "  python: bytecode compiles in the background"
      # its own session, outside the server's process tree (start.sh execs the server)
      background=(nice -n 10)
      command -v setsid >/dev/null 2>&1 && background=(setsid nice -n 10)
      ("${background[@]}" .venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages src >/dev/null 2>&1 &)
    fi
  else
    echo "  python: uv not available; pip installs instead"
  fi
  if [ -z "$uv" ]; then
    [ -x .venv/bin/pip ] || "$PY" -m venv .venv
    # One line per package as pip gets to it, not pip's full output.
    .venv/bin/pip install --progress-bar off -e "$spec" 2>&1 | tee .venv/install.log | awk '
      /^Collecting / { n++; printf "  [%3d] %s\n", n, $2; fflush() }
      /^Installing collected packages/ { print "  installing..."; fflush() }
      /^Successfully installed/ { print "  done"; fflush() }'
    [ "${PIPESTATUS[0]}" = "0" ] || { cat .venv/install.log >&2; echo "error: pip could not install $spec" >&2; exit 1; }
  fi
  rm -f .venv/install.log
  touch "$wanted"
  installed=1
  echo "  python: $what installed in $(_since "$py_started") ($(du -sh .venv --exclude=node-runtime --exclude=node-runtime.new 2>/dev/null | cut -f1) in .venv)"
fi

if [ -n "$node_pid" ]; then
  if wait "$node_pid"; then
    cat "$node_log"
    rm -f "$node_log"
  else
    echo "error: npm could not install the AWS SDK for JavaScript v3 (scripts/node-runtime):" >&2
    cat "$node_log" >&2
    exit 1
  fi
fi

# The SAM CLI, for the tests that deploy with it (tests/neighbours/test_sam_deploy.py): in a
# virtualenv of its own, .venv/sam-cli, because it pins boto3/botocore (and pydantic, rich)
# below what .venv holds, and pip would downgrade them there.
if [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ]; then
  sam_spec="aws-sam-cli>=1.140"
  sam_stamp=".venv/sam-cli/.installed-$(echo "$sam_spec" | sha256sum | cut -c1-16)"
  if [ ! -f "$sam_stamp" ]; then
    echo "installing the SAM CLI into .venv/sam-cli ($sam_spec)"
    [ -x .venv/sam-cli/bin/python ] || "$PY" -m venv .venv/sam-cli
    .venv/sam-cli/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/sam-cli/bin/pip install -q "$sam_spec"
    touch "$sam_stamp"
  fi
fi

# The AWS CDK (its CLI and library, and cdklocal), for tests/neighbours/test_cdk_deploy.py: the
# versions scripts/cdk/package-lock.json pins, in .venv/cdk.
if [ "${LOCALLAMBDA_WITH_TEST_TOOLS:-0}" = "1" ] && [ -f scripts/cdk/package-lock.json ] && command -v npm >/dev/null 2>&1; then
  cdk_dir=.venv/cdk
  cdk_stamp="$cdk_dir/.installed-$(cat scripts/cdk/package.json scripts/cdk/package-lock.json | sha256sum | cut -c1-16)"
  if [ ! -f "$cdk_stamp" ]; then
    echo "installing the AWS CDK into $cdk_dir (npm ci)"
    rm -rf "$cdk_dir"
    mkdir -p "$cdk_dir"
    cp scripts/cdk/package.json scripts/cdk/package-lock.json "$cdk_dir/"
    (cd "$cdk_dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$cdk_stamp"
  fi
fi
[ -z "$installed" ] || echo "installed in $(_since "$boot_started")"
