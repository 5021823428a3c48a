#!/usr/bin/env bash
# Creates (once) the Python virtualenv holding the pinned moto server that the tests and the demo use as a
# local AWS, and prints the path of its `moto_server` executable.
#
# The venv lives in a cache directory outside the clone (${JIT_CACHE:-$HOME/.cache/jit}/moto-venv) so that it
# survives between runs and clones; a call when it is already installed is a fast no-op.
set -euo pipefail

MOTO_VERSION="5.2.5"
CACHE="${JIT_CACHE:-$HOME/.cache/jit}"
VENV="$CACHE/moto-venv"
STAMP="$VENV/.jit-moto-version"

# The stamp is written only after a successful install, so a half-finished install is redone.
installed() {
    [[ -x "$VENV/bin/moto_server" && -f "$STAMP" && "$(cat "$STAMP")" == "$MOTO_VERSION" ]]
}

if installed; then
    echo "$VENV/bin/moto_server"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; moto (the local AWS used by the tests) needs Python 3.9+ with the venv module" >&2
    exit 1
fi

mkdir -p "$CACHE"
# Parallel test processes may all find moto missing: one installs it while the others wait, then they re-check.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/moto-venv.lock"
    flock 9
    if installed; then
        echo "$VENV/bin/moto_server"
        exit 0
    fi
fi

# Progress goes to stderr: stdout carries only the path, for callers that capture it.
echo "installing moto[server]==$MOTO_VERSION into $VENV (about 30 s, once)" >&2
rm -f "$STAMP"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
echo "$MOTO_VERSION" >"$STAMP"
echo "$VENV/bin/moto_server"
