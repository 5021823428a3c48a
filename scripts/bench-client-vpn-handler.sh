#!/usr/bin/env bash
# Benchmark of jit-client-vpn-handler, the Client VPN client-connect Lambda, against the local AWS
# (scripts/local-aws.sh) through a local Lambda Runtime API: cold start (process start to the first answer, the
# grants read from the local AWS), warm latency over 1,000 events (median and p99, answered from the snapshot), and
# AWS calls per event; each next to the floor measured in the same run (the same binary answering events it refuses
# before any AWS call: what the runtime and process cost alone). Prints the figures against the goals of issue 12.
#
#   scripts/bench-client-vpn-handler.sh            release build; 1,000 warm events, 15 cold starts
#   scripts/bench-client-vpn-handler.sh --debug    the debug build (the tests' build; slower, quicker to get)
#
# Environment: EVENTS (warm events, default 1000), COLD (cold starts per side, default 15), GRANTS (grant tags on
# the endpoint, default 40); JIT_CACHE (default ~/.cache/jit) holds the moto venv; CARGO_TARGET_DIR (default
# ~/.cache/jit/target). Exit status: 0 every goal met, 1 a goal missed, 2 a tool failed or bad usage.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

PROFILE=release
for arg in "$@"; do
    case "$arg" in
        --debug) PROFILE=debug ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument '$arg'; the only option is --debug" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${JIT_CACHE:-$HOME/.cache/jit}/target}"
MOTO_SERVER="$("$ROOT/scripts/moto-venv.sh")"
PYTHON="$(dirname "$MOTO_SERVER")/python"

if [[ $PROFILE == release ]]; then
    echo "building jit-client-vpn-handler (release) in $CARGO_TARGET_DIR" >&2
    cargo build --release --quiet -p terraform-provider-jit --bin jit-client-vpn-handler --manifest-path "$ROOT/Cargo.toml" >&2
else
    echo "building jit-client-vpn-handler (debug) in $CARGO_TARGET_DIR" >&2
    cargo build --quiet -p terraform-provider-jit --bin jit-client-vpn-handler --manifest-path "$ROOT/Cargo.toml" >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/jit-bench-cvpn.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" "$ROOT/scripts/bench_client_vpn/bench.py" --handler "$CARGO_TARGET_DIR/$PROFILE/jit-client-vpn-handler" \
    --local-aws "$ROOT/scripts/local-aws.sh" --work "$WORK" --profile "$PROFILE" \
    --events "${EVENTS:-1000}" --cold "${COLD:-15}" --grants "${GRANTS:-40}"
