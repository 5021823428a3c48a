#!/usr/bin/env bash
# Benchmark of terraform-provider-jit against the local AWS (scripts/local-aws.sh: moto behind a strict proxy):
# how many AWS requests one `terraform plan` makes over many grants, and how long that plan takes next to the same
# plan over `terraform_data` resources (terraform's own floor: no provider at all). Prints the figures against the targets of issue 6.
#
#   scripts/bench-provider.sh            200 grants over 10 network ACLs: request count and plan times (~2 min
#                                        after the release build)
#   scripts/bench-provider.sh --smoke    20 grants over 4 ACLs: request count only, no timing
#   scripts/bench-provider.sh --smoke --debug   the same with the debug build (quicker to build; the request
#                                        count does not depend on the profile)
#
# Environment: GRANTS, ACLS, RUNS (timed plans per side, default 7) override the sizes; JIT_CACHE (default
# ~/.cache/jit) holds the moto venv; CARGO_TARGET_DIR (default ~/.cache/jit/target).
# Everything else lives in a temporary directory that is removed at the end; moto listens on 127.0.0.1 only.
# Exit status: 0 all targets met, 1 a target missed, 2 a tool failed or bad usage.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

SMOKE=0
PROFILE=release
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        --debug) PROFILE=debug ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument '$arg'; the options are --smoke and --debug" >&2; exit 2 ;;
    esac
done
if [[ $PROFILE == debug && $SMOKE -eq 0 ]]; then
    echo "error: --debug only goes with --smoke: plan times of a debug build say nothing about the release" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${JIT_CACHE:-$HOME/.cache/jit}/target}"

if ! command -v terraform >/dev/null 2>&1; then
    echo "error: terraform is not on PATH; install terraform 1.11 or later (https://developer.hashicorp.com/terraform/install)" >&2
    exit 2
fi

# The venv's Python has boto3 (a moto dependency), which the helper uses to create the ACLs.
MOTO_SERVER="$("$ROOT/scripts/moto-venv.sh")"
PYTHON="$(dirname "$MOTO_SERVER")/python"

if [[ $PROFILE == release ]]; then
    echo "building terraform-provider-jit (release) in $CARGO_TARGET_DIR" >&2
    cargo build --release --quiet -p terraform-provider-jit --bins --manifest-path "$ROOT/Cargo.toml" >&2
else
    echo "building terraform-provider-jit (debug) in $CARGO_TARGET_DIR" >&2
    cargo build --quiet -p terraform-provider-jit --bins --manifest-path "$ROOT/Cargo.toml" >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/jit-bench-provider.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

if [[ $SMOKE -eq 1 ]]; then
    ARGS=(--smoke --grants "${GRANTS:-20}" --acls "${ACLS:-4}")
else
    ARGS=(--grants "${GRANTS:-200}" --acls "${ACLS:-10}" --runs "${RUNS:-7}")
fi
"$PYTHON" "$ROOT/scripts/bench_provider/bench.py" --provider-dir "$CARGO_TARGET_DIR/$PROFILE" \
    --local-aws "$ROOT/scripts/local-aws.sh" --work "$WORK" --profile "$PROFILE" "${ARGS[@]}"
