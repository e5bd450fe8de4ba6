#!/usr/bin/env bash
# Builds the container images the docker executor's tests use, with no registry at all:
#
#   locallambda-test/debian:bookworm   a Debian root filesystem made by debootstrap, docker-imported
#   locallambda-test/python:3.11       a Lambda-like Python image laid out as the official
#                                      public.ecr.aws/lambda/python:3.11 (/lambda-entrypoint.sh,
#                                      /var/runtime/bootstrap → awslambdaric, boto3 in /var/runtime
#                                      as AWS bundles it, /var/task, /opt)
#   locallambda-test/image-fn:latest   a container-image function: the above with a handler baked in
#
# Each image is skipped when it exists from this very recipe (FORCE=1 rebuilds all); the whole
# build takes about a minute. The Debian mirror is read from this machine's apt configuration
# (LOCALLAMBDA_DEBIAN_MIRROR overrides it); awslambdaric's wheels are fetched by the host's pip
# (which knows the host's index and certificates) and installed offline inside the build.
# Needs root (debootstrap) and a running Docker daemon.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
BASE=locallambda-test/debian:$SUITE
PYTHON_IMAGE=locallambda-test/python:3.11
FUNCTION_IMAGE=locallambda-test/image-fn:latest
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed, --network host works

# Images carry the hash of this script: editing the recipe rebuilds them on the next run.
RECIPE="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
have_image() {
  [ "${FORCE:-0}" != "1" ] || return 1
  [ "$(docker image inspect -f '{{index .Config.Labels "locallambda.recipe"}}' "$1" 2>/dev/null)" = "$RECIPE" ]
}

# The first mirror of this machine's apt sources that serves $SUITE (one-line and deb822 formats).
apt_mirror() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v suite="$SUITE" '
    function has_suite(list,   n, i, parts) {
      n = split(list, parts, /[ \t]+/)
      for (i = 1; i <= n; i++) if (parts[i] == suite) return 1
      return 0
    }
    # one-line format: deb [options] URI suite component...
    /^[ \t]*deb[ \t]/ {
      line = $0; sub(/\[[^]]*\]/, "", line); n = split(line, f, /[ \t]+/)
      j = (f[1] == "") ? 2 : 1
      if (f[j + 2] == suite) { print f[j + 1]; exit }
      next
    }
    # deb822 stanzas: Types / URIs / Suites, separated by blank lines
    /^[ \t]*$/ { if (types ~ /(^| )deb( |$)/ && has_suite(suites) && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
                 types = ""; uris = ""; suites = ""; next }
    tolower($1) == "types:"  { $1 = ""; types = $0 " " }
    tolower($1) == "uris:"   { $1 = ""; sub(/^[ \t]+/, ""); uris = $0 }
    tolower($1) == "suites:" { $1 = ""; suites = $0 }
    END { if (types ~ /(^| )deb( |$)/ && has_suite(suites) && uris != "") { split(uris, u, /[ \t]+/); print u[1] } }
  ' "${files[@]}" | head -n1
}

# Runs "$@" quietly; its output is shown only when it fails.
quiet() {
  local out="$WORK/step.log"
  "$@" >"$out" 2>&1 || { cat "$out" >&2; echo "build-test-images: failed: $*" >&2; return 1; }
}

host_python() {
  if [ -x "$ROOT/.venv/bin/python" ]; then echo "$ROOT/.venv/bin/python"; else command -v python3; fi
}

WORK="$(mktemp -d /tmp/locallambda-images.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

if ! have_image "$BASE"; then
  mirror="${LOCALLAMBDA_DEBIAN_MIRROR:-$(apt_mirror)}"
  if [ -z "$mirror" ]; then
    echo "build-test-images: no apt source for '$SUITE' on this machine; set LOCALLAMBDA_DEBIAN_MIRROR" >&2
    exit 1
  fi
  echo "build-test-images: debootstrap $SUITE from $mirror"
  rootfs="$WORK/rootfs"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$mirror" \
    > "$WORK/debootstrap.log" 2>&1 || { tail -n 40 "$WORK/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change "LABEL locallambda.recipe=$RECIPE" - "$BASE" >/dev/null
  rm -rf "$rootfs"
  echo "build-test-images: $BASE imported ($((SECONDS - started)) s)"
fi

if ! have_image "$PYTHON_IMAGE"; then
  ctx="$WORK/python"
  mkdir -p "$ctx/wheels"
  arch="$(uname -m)"
  quiet "$(host_python)" -m pip download -q --disable-pip-version-check --only-binary=:all: \
    --platform "manylinux2014_$arch" --implementation cp --python-version 3.11 \
    -d "$ctx/wheels" awslambdaric boto3
  # The official image's entrypoint: the runtime client when AWS_LAMBDA_RUNTIME_API is set,
  # otherwise the Runtime Interface Emulator (not shipped here).
  cat > "$ctx/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  echo "AWS_LAMBDA_RUNTIME_API is not set (this image ships no Runtime Interface Emulator)" 1>&2
  exit 142
fi
exec $RUNTIME_ENTRYPOINT
EOF
  # Search path as on AWS: the task, the layers' python directories, then the runtime.
  cat > "$ctx/bootstrap" <<'EOF'
#!/bin/sh
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/opt/python/lib/python3.11/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 -m awslambdaric "$_HANDLER"
EOF
  cat > "$ctx/Dockerfile" <<EOF
FROM $BASE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY wheels /tmp/wheels
RUN python3 -m pip install -q --no-index --no-compile --find-links /tmp/wheels --target /var/runtime awslambdaric boto3 \\
 && rm -rf /tmp/wheels && mkdir -p /var/task /opt
COPY lambda-entrypoint.sh /lambda-entrypoint.sh
COPY bootstrap /var/runtime/bootstrap
RUN chmod 755 /lambda-entrypoint.sh /var/runtime/bootstrap
ENV LANG=C.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin \\
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
EOF
  quiet docker build -q --network host --label "locallambda.recipe=$RECIPE" -t "$PYTHON_IMAGE" "$ctx"
  echo "build-test-images: $PYTHON_IMAGE built ($((SECONDS - started)) s)"
fi

if ! have_image "$FUNCTION_IMAGE"; then
  ctx="$WORK/image-fn"
  mkdir -p "$ctx"
  cat > "$ctx/app.py" <<'EOF'
import os


def _describe(name, event):
    return {"handler": name, "event": event, "cwd": os.getcwd(),
            "task_root": os.environ.get("LAMBDA_TASK_ROOT"), "image": True}


def handler(event, context):
    return _describe("handler", event)


def other(event, context):
    return _describe("other", event)
EOF
  cat > "$ctx/Dockerfile" <<EOF
FROM $PYTHON_IMAGE
COPY app.py \${LAMBDA_TASK_ROOT}/
CMD ["app.handler"]
EOF
  quiet docker build -q --label "locallambda.recipe=$RECIPE" -t "$FUNCTION_IMAGE" "$ctx"
  echo "build-test-images: $FUNCTION_IMAGE built ($((SECONDS - started)) s)"
fi

# Earlier builds of these images, now untagged.
docker image prune -f --filter "label=locallambda.recipe" >/dev/null 2>&1 || true
