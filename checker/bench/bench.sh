#!/usr/bin/env bash
# Comparative benchmark of jitlint against parliament (IAM policy corpus) and checkov (Terraform plan).
# Prints medians, speed-up ratios and jitlint's peak memory against the targets in issue 3. See README.md.
#
#   checker/bench/bench.sh            full run: builds jitlint (release), sets up the peers, 5-10 minutes
#   checker/bench/bench.sh --smoke    tiny inputs, no peers, no network: for CI, a few seconds after the build
#
# Environment: JIT_CACHE (default ~/.cache/jit) holds the peers' venv; CARGO_TARGET_DIR (default
# ~/.cache/jit/target); JIT_CORPUS overrides the policy corpus; RUNS / PEER_RUNS the timed repetitions;
# PARLIAMENT_JOBS parliament's worker processes (default: CPU count).
# Exit status: 0 all targets met, 1 a target missed, 2 a tool failed or bad usage.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

SMOKE=0
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument '$arg'; the only option is --smoke" >&2; exit 2 ;;
    esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${JIT_CACHE:-$HOME/.cache/jit}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jit/target}"
PARLIAMENT_VERSION="1.6.4"
CHECKOV_VERSION="3.3.30"

# Debian packages for the timer and the memory probe; without root we fall back (Python timer) or report n/a.
apt_install() {
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian package $1" >&2
        apt-get install -y -qq "$1" >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$1" >/dev/null 2>&1) || true
    fi
}
command -v hyperfine >/dev/null 2>&1 || apt_install hyperfine
[[ -x /usr/bin/time ]] || apt_install time
TIMER=python
command -v hyperfine >/dev/null 2>&1 && TIMER=hyperfine

if [[ $SMOKE -eq 1 ]]; then
    CORPUS="$ROOT/examples/policies"
    RESOURCES=50
    ARGS=(--smoke --runs "${RUNS:-3}")
else
    CORPUS="${JIT_CORPUS:-$ROOT/../shared/corpora/aws-managed-policies}"
    RESOURCES=5000
    if [[ ! -d "$CORPUS" ]]; then
        echo "error: policy corpus $CORPUS not found; set JIT_CORPUS to a directory of IAM policy JSON files" >&2
        exit 2
    fi
    CORPUS="$(cd "$CORPUS" && pwd)"
    # The peers live in a venv outside the clone; the stamp is written only after a complete install.
    VENV="$CACHE/bench-venv"
    STAMP="$VENV/.jit-bench-versions"
    WANT="parliament==$PARLIAMENT_VERSION checkov==$CHECKOV_VERSION"
    if [[ ! -x "$VENV/bin/checkov" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
        echo "installing $WANT into $VENV (a minute or two, once)" >&2
        mkdir -p "$CACHE"
        rm -f "$STAMP"
        "${PYTHON:-python3}" -m venv "$VENV"
        # shellcheck disable=SC2086 # WANT is two requirement specifiers
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $WANT
        echo "$WANT" >"$STAMP"
    fi
    ARGS=(--venv "$VENV" --runs "${RUNS:-10}" --peer-runs "${PEER_RUNS:-3}")
    [[ -n "${PARLIAMENT_JOBS:-}" ]] && ARGS+=(--parliament-jobs "$PARLIAMENT_JOBS")
fi

echo "building jitlint (release) in $CARGO_TARGET_DIR" >&2
cargo build --release --quiet -p jitlint --manifest-path "$ROOT/Cargo.toml" >&2
JITLINT="$CARGO_TARGET_DIR/release/jitlint"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/jitlint-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

python3 "$HERE/bench.py" --jitlint "$JITLINT" --corpus "$CORPUS" --work "$WORK" --resources "$RESOURCES" \
    --timer "$TIMER" "${ARGS[@]}"
