#!/usr/bin/env bash
# THE test command (CI runs it through .ci/run): formatting, lints, the provider build, then every test, unit
# and end-to-end. Extra arguments go to the test runner, e.g. `scripts/test.sh access_rule` runs matching tests.
#
# Needs terraform (1.11+), cargo, python3 and gpg (the release tests sign with a throwaway key). The cargo target directory and the moto venv live in
# ${JIT_CACHE:-$HOME/.cache/jit}, outside the clone, so that they survive between runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${JIT_CACHE:-$HOME/.cache/jit}/target}"
export CHECKPOINT_DISABLE=1
# insta finds snapshots through the manifest directory a test binary was compiled in; one built by another
# checkout sharing the target directory (and still fresh) would look in that checkout. This one's, always.
export INSTA_WORKSPACE_ROOT="$ROOT"

if ! command -v terraform >/dev/null 2>&1; then
    echo "error: terraform is not on PATH. The end-to-end tests drive the real terraform binary (1.11 or later);" >&2
    echo "       install it from https://developer.hashicorp.com/terraform/install and run scripts/test.sh again." >&2
    exit 1
fi

# The end-to-end tests start moto from this venv, and tests/tests/release.rs lints the release workflow with the
# tools in the second; installing them here keeps the tests from racing to do it.
scripts/moto-venv.sh >/dev/null
scripts/gha-lint-venv.sh >/dev/null

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run the provider and jitctl binaries; they find them in $CARGO_TARGET_DIR/debug. The test
# build below makes them (the provider package has integration tests, so cargo builds its binaries with the same
# features as the tests; a separate `cargo build -p terraform-provider-jit` would unify features differently and
# compile the AWS SDK a second time).

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace "$@"
    # nextest does not run doctests.
    cargo test --workspace --doc
else
    cargo test --workspace "$@"
fi
