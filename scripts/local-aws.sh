#!/usr/bin/env bash
# Runs the strict local AWS (scripts/local_aws.py: a proxy in front of moto that refuses what AWS refuses and can
# inject faults) on a free port of 127.0.0.1, installing moto first when needed (scripts/moto-venv.sh).
#
# The first line of stdout is the endpoint, `http://127.0.0.1:PORT`, printed once it answers requests; nothing
# else goes to stdout (logs go to stderr). Serves until SIGTERM or SIGINT, then stops moto and exits 0.
#
# Arguments are passed to local_aws.py: --port N (a fixed port), --exit-on-stdin-eof (stop when stdin closes).
# Environment: JIT_LOCAL_AWS_NACL_RULES_PER_DIRECTION (default 20, at most 40), JIT_LOCAL_AWS_FAULTS (JSON fault
# configuration, see local_aws.py), JIT_CACHE (where the moto venv lives).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOTO_SERVER="$("$ROOT/scripts/moto-venv.sh")"
# The venv's Python (3.9+); the layer itself needs only the standard library.
exec "$(dirname "$MOTO_SERVER")/python" -u "$ROOT/scripts/local_aws.py" --moto-server "$MOTO_SERVER" "$@"
