#!/usr/bin/env bash
# Builds a jit release for this machine's platform into dist/VERSION/:
#
#   terraform-provider-jit_VERSION_OS_ARCH.zip     the provider, as the Terraform and OpenTofu registries expect it
#   terraform-provider-jit_VERSION_manifest.json   its plugin protocol (6.0)
#   terraform-provider-jit_VERSION_SHA256SUMS      over the provider zips and the manifest (+ .sig when signing)
#   jitctl_VERSION_OS_ARCH.zip                     jitctl
#   NAME_VERSION_ARCH.zip                          on Linux, each Lambda function as `bootstrap` (provided.al2023;
#                                                  ARCH is Lambda's: x86_64 or arm64)
#   jit_VERSION_SHA256SUMS                         over jitctl and the Lambda bundles (+ .sig when signing)
#
# Usage:
#   scripts/release.sh [VERSION]                  check, build (release profile, --locked) and pack
#   scripts/release.sh --bin-dir DIR [VERSION]    pack the binaries in DIR without building (tests, the demo)
#   scripts/release.sh --checksums-only [VERSION] rewrite the manifest, SHA256SUMS and signatures over the
#                                                 archives in the output directory (the release workflow runs
#                                                 this after merging every platform's archives)
#   scripts/release.sh --notes [VERSION]          print VERSION's CHANGELOG.md entry (the release notes)
# Options:
#   --out DIR         write into DIR instead of dist/VERSION
#   --platform P      with --bin-dir: the binaries are for P (linux_amd64, linux_arm64, darwin_amd64,
#                     darwin_arm64, windows_amd64); default this machine's
#   --provider-only   pack only the provider
#   --mirror DIR      also lay out DIR as a provider mirror: filesystem_mirror (packed layout) and, served over
#                     HTTPS, network_mirror (index.json, VERSION.json)
#
# VERSION defaults to the workspace version in Cargo.toml and must equal it, and CHANGELOG.md must have an entry
# `## [VERSION]` for it. A build needs a clean git tree (a release is a commit); the binaries report that commit
# in `--version`. Environment: SOURCE_DATE_EPOCH (every timestamp in the archives; default the commit time of
# HEAD), JIT_GPG_KEY (sign with this gpg key, from gpg's usual GNUPGHOME; JIT_GPG_PASSPHRASE if the key has
# one), CARGO_TARGET_DIR (default
# ${JIT_CACHE:-$HOME/.cache/jit}/target, as scripts/test.sh). Two runs on the same commit give identical
# SHA256SUMS.
set -euo pipefail

# The Lambda functions the project ships: binaries of terraform-provider-jit, each packed as `bootstrap`.
# Adding a function is one line here.
LAMBDAS=(
    jitctl-lambda
    jit-client-vpn-handler
)
# Lambda's provided.al2023 runtime has glibc 2.34: a bootstrap that needs newer symbols does not start there.
LAMBDA_MAX_GLIBC=2.34

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() {
    echo "release: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}" >&2
    exit 2
}

BIN_DIR=""
OUT=""
PLATFORM=""
PROVIDER_ONLY=0
CHECKSUMS_ONLY=0
NOTES=0
MIRROR=""
VERSION=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin-dir) BIN_DIR=${2:?--bin-dir needs a directory}; shift 2 ;;
        --out) OUT=${2:?--out needs a directory}; shift 2 ;;
        --platform) PLATFORM=${2:?--platform needs OS_ARCH}; shift 2 ;;
        --mirror) MIRROR=${2:?--mirror needs a directory}; shift 2 ;;
        --provider-only) PROVIDER_ONLY=1; shift ;;
        --checksums-only) CHECKSUMS_ONLY=1; shift ;;
        --notes) NOTES=1; shift ;;
        -h | --help) usage ;;
        -*) echo "release: unknown option $1" >&2; usage ;;
        *)
            [[ -z "$VERSION" ]] || die "more than one VERSION given ($VERSION, $1)"
            VERSION=$1
            shift
            ;;
    esac
done

WORKSPACE_VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
[[ -n "$WORKSPACE_VERSION" ]] || die "cannot read the workspace version ([workspace.package] version) from Cargo.toml"
VERSION=${VERSION:-$WORKSPACE_VERSION}

# The changelog first: a version nobody described is not released, whatever else is right.
ENTRY=$(awk -v heading="## [$VERSION]" '
    index($0, heading) == 1 && (length($0) == length(heading) || substr($0, length(heading) + 1, 1) == " ") { found = 1; next }
    found && /^## / { exit }
    found { print }
' CHANGELOG.md)
[[ -n "${ENTRY//[[:space:]]/}" ]] || die "CHANGELOG.md has no entry for $VERSION: add a section \`## [$VERSION] - YYYY-MM-DD\` saying what changed, then run this again"
[[ "$VERSION" == "$WORKSPACE_VERSION" ]] ||
    die "VERSION $VERSION is not the workspace version $WORKSPACE_VERSION: set version = \"$VERSION\" under [workspace.package] in Cargo.toml (and commit) first"
if [[ $NOTES -eq 1 ]]; then
    printf '%s\n' "$ENTRY"
    exit 0
fi

host_platform() {
    local os arch
    case "$(uname -s)" in
        Linux) os=linux ;;
        Darwin) os=darwin ;;
        MINGW* | MSYS* | CYGWIN*) os=windows ;;
        *) die "no release platform for the OS $(uname -s)" ;;
    esac
    case "$(uname -m)" in
        x86_64 | amd64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) die "no release platform for the CPU $(uname -m)" ;;
    esac
    echo "${os}_${arch}"
}

if [[ -n "$PLATFORM" && -z "$BIN_DIR" ]]; then
    die "--platform is for --bin-dir: a build is always for this machine's platform ($(host_platform))"
fi
PLATFORM=${PLATFORM:-$(host_platform)}
OUT=${OUT:-$ROOT/dist/$VERSION}
PYTHON=${PYTHON:-python3}
pack() { "$PYTHON" "$ROOT/scripts/release_pack.py" "$@" --version "$VERSION"; }

if [[ $CHECKSUMS_ONLY -eq 0 ]]; then
    if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
        SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD 2>/dev/null) ||
            die "not in a git checkout: set SOURCE_DATE_EPOCH (Unix seconds) for the archives' timestamps"
    fi
    export SOURCE_DATE_EPOCH

    if [[ -z "$BIN_DIR" ]]; then
        DIRTY=$(git status --porcelain --untracked-files=normal)
        [[ -z "$DIRTY" ]] || die "the git tree has uncommitted changes; a release is built from a commit: commit or stash them first:
$DIRTY"
        export JIT_BUILD_COMMIT
        JIT_BUILD_COMMIT=$(git rev-parse HEAD)
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${JIT_CACHE:-$HOME/.cache/jit}/target}"
        [[ "$CARGO_TARGET_DIR" == /* ]] || CARGO_TARGET_DIR=$ROOT/$CARGO_TARGET_DIR
        # No build paths in the binaries (panic locations name source files): the same commit builds the same
        # bytes in any checkout. A separator-encoded list, so that paths with spaces survive.
        CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
        export CARGO_ENCODED_RUSTFLAGS="--remap-path-prefix=$ROOT=/jit"$'\x1f'"--remap-path-prefix=$CARGO_HOME_DIR=/cargo"$'\x1f'"--remap-path-prefix=$CARGO_TARGET_DIR=/target"
        echo "release: building $VERSION ($JIT_BUILD_COMMIT) for $PLATFORM" >&2
        cargo build --release --locked -p terraform-provider-jit --bins
        BIN_DIR=$CARGO_TARGET_DIR/release

        EXE=""
        [[ "$PLATFORM" == windows_* ]] && EXE=.exe
        WANT="terraform-provider-jit $VERSION (commit $JIT_BUILD_COMMIT)"
        GOT=$("$BIN_DIR/terraform-provider-jit$EXE" --version | tr -d '\r')
        [[ "$GOT" == "$WANT" ]] || die "the built provider reports \`$GOT\`, not \`$WANT\`"
        if [[ "$PLATFORM" == linux_* ]]; then
            for name in "${LAMBDAS[@]}"; do
                command -v objdump >/dev/null || die "objdump (binutils) is needed to check what glibc $name needs"
                NEEDS=$(objdump -T "$BIN_DIR/$name" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
                if [[ -n "$NEEDS" && "$(printf '%s\n%s\n' "$NEEDS" "$LAMBDA_MAX_GLIBC" | sort -V | tail -n 1)" != "$LAMBDA_MAX_GLIBC" ]]; then
                    die "$name needs glibc $NEEDS, but Lambda's provided.al2023 has $LAMBDA_MAX_GLIBC: build on a system with glibc $LAMBDA_MAX_GLIBC or older"
                fi
            done
        fi
    fi

    ARGS=(--platform "$PLATFORM" --bin-dir "$BIN_DIR" --out "$OUT")
    [[ $PROVIDER_ONLY -eq 1 ]] && ARGS+=(--provider-only)
    for name in "${LAMBDAS[@]}"; do
        ARGS+=(--lambda "$name")
    done
    pack pack "${ARGS[@]}"
fi

SIGN=()
[[ -n "${JIT_GPG_KEY:-}" ]] && SIGN=(--sign "$JIT_GPG_KEY")
pack checksums --dir "$OUT" ${SIGN[@]+"${SIGN[@]}"}
if [[ -n "$MIRROR" ]]; then
    pack mirror --dir "$OUT" --mirror "$MIRROR"
fi
