#!/usr/bin/env bash
# Installs what locallambda needs on a fresh Debian/Ubuntu machine (idempotent):
# a virtualenv in .venv with the package and its test tools, the Debian packages the
# runtimes, executors and benchmarks use, and in .venv/node-runtime the AWS SDK for JavaScript v3
# that Node.js functions find in /var/runtime/node_modules. Sourced by scripts/start.sh and
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
if [ ! -x .venv/bin/python ]; then
  echo "creating the virtualenv .venv"
  "$PY" -m venv .venv
fi
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
if [ ! -f "$wanted" ] && [ ! -f "$test_stamp" ]; then
  echo "installing $what into .venv (first time only; progress below)"
  pip_started=$SECONDS
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  # One line per package as pip gets to it, not pip's full output.
  .venv/bin/pip install --progress-bar off -e "$spec" 2>&1 | awk '
    /^Collecting / { n++; printf "  [%3d] %s\n", n, $2; fflush() }
    /^Installing collected packages/ { print "  installing..."; fflush() }
    /^(ERROR|error):/ { print; fflush() }
    /^Successfully installed/ { print "  done"; fflush() }'
  touch "$wanted"
  echo "installed in $((SECONDS - pip_started)) s ($(du -sh .venv | cut -f1) in .venv)"
fi

# The SDK that AWS's nodejs18.x and later bundle in /var/runtime/node_modules, as the server
# expects it (Settings.nodejs_runtime_dir, LOCALLAMBDA_NODEJS_RUNTIME_DIR): the clients named in
# scripts/node-runtime/package.json at the versions its lock file pins. Installed beside, then
# swapped in; the type declarations (dist-types) are dropped, as AWS's images drop them, since
# nothing loads them at run time. Without npm, Node.js functions still run, without the SDK.
node_runtime=.venv/node-runtime
node_stamp="$node_runtime/.installed-$(cat scripts/node-runtime/package.json scripts/node-runtime/package-lock.json | sha256sum | cut -c1-16)"
if [ ! -f "$node_stamp" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing the AWS SDK for JavaScript v3 for Node.js functions into $node_runtime (npm ci)"
    node_started=$SECONDS
    rm -rf "$node_runtime.new"
    mkdir -p "$node_runtime.new"
    cp scripts/node-runtime/package.json scripts/node-runtime/package-lock.json "$node_runtime.new/"
    (cd "$node_runtime.new" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
    find "$node_runtime.new/node_modules" -type d -name dist-types -prune -exec rm -rf {} +
    rm -rf "$node_runtime"
    mv "$node_runtime.new" "$node_runtime"
    touch "$node_stamp"
    echo "AWS SDK for JavaScript v3 installed: $(du -sh "$node_runtime/node_modules" | cut -f1) in $((SECONDS - node_started)) s"
  else
    echo "warning: npm is missing: Node.js functions will not find the AWS SDK v3 in /var/runtime" >&2
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
