#!/usr/bin/env bash
# The jit demo, entirely local: starts a private local AWS (scripts/local-aws.sh: moto behind a proxy that refuses
# what AWS refuses), creates a VPC with a network ACL in
# it, and runs examples/vpn-ike and examples/remote-work-allowlist with the locally built provider, installed as a
# user installs a release: packed by scripts/release.sh into a local provider mirror, then `terraform init`. Then:
# plan, check the plan with jitlint, apply, show the grant as terraform and as AWS see it, and destroy it.
#
# Needs terraform (1.11+), cargo and python3. Writes only to a temporary directory (removed at the end) and to
# the cache directory ${JIT_CACHE:-$HOME/.cache/jit} (the moto venv and the cargo target directory).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${JIT_CACHE:-$HOME/.cache/jit}/target}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v terraform >/dev/null 2>&1; then
    echo "error: terraform is not on PATH; install terraform 1.11 or later (https://developer.hashicorp.com/terraform/install)" >&2
    exit 1
fi

step "Installing moto, the local AWS (once; cached in ${JIT_CACHE:-$HOME/.cache/jit})"
MOTO_SERVER=$("$ROOT/scripts/moto-venv.sh")
PYTHON="$(dirname "$MOTO_SERVER")/python"

step "Building terraform-provider-jit and jitlint"
cargo build --manifest-path "$ROOT/Cargo.toml" -p terraform-provider-jit --bins
cargo build --manifest-path "$ROOT/Cargo.toml" -p jitlint
JITLINT="$CARGO_TARGET_DIR/debug/jitlint"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jit-demo.XXXXXX")
MOTO_PID=""
cleanup() {
    local status=$?
    if [[ -n "$MOTO_PID" ]]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -f "$WORK/moto.log" ]]; then
        echo "demo failed; the last lines moto logged:" >&2
        tail -n 20 "$WORK/moto.log" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "Starting the local AWS (moto behind the strict proxy) on a free port"
# It prints its endpoint as the first line of stdout once it answers requests, and stops moto on SIGTERM.
"$ROOT/scripts/local-aws.sh" >"$WORK/endpoint" 2>"$WORK/moto.log" &
MOTO_PID=$!
ENDPOINT=""
for _ in $(seq 600); do
    ENDPOINT=$(head -n 1 "$WORK/endpoint")
    [[ -n "$ENDPOINT" ]] && break
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "error: the local AWS exited" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$ENDPOINT" ]] || { echo "error: the local AWS did not report its endpoint" >&2; exit 1; }
echo "the local AWS is listening on $ENDPOINT"

step "Creating a VPC and a network ACL in moto"
ACL=$("$PYTHON" "$ROOT/scripts/demo_aws.py" setup "$ENDPOINT")
echo "network ACL: $ACL"

step "Packing the build as a release and laying out a local provider mirror (scripts/release.sh)"
# The debug build, packed exactly as a release is (zip, manifest, SHA256SUMS), into the mirror layout that
# terraform's filesystem_mirror reads. Terraform installs jit from there and from nowhere else: the CLI
# configuration has no direct {} block, so nothing is fetched from the internet.
"$ROOT/scripts/release.sh" --bin-dir "$CARGO_TARGET_DIR/debug" --provider-only --out "$WORK/dist" --mirror "$WORK/mirror"
cat >"$WORK/cli.tfrc" <<HCL
provider_installation {
  filesystem_mirror {
    path    = "$WORK/mirror"
    include = ["registry.terraform.io/jit-access/jit"]
  }
}
HCL
export TF_CLI_CONFIG_FILE="$WORK/cli.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
cp -R "$ROOT/examples/vpn-ike" "$WORK/vpn-ike"
cd "$WORK/vpn-ike"

step "terraform init: install jit from the mirror and pin it in .terraform.lock.hcl"
terraform init -input=false
cat .terraform.lock.hcl

step "terraform plan: UDP 500 and 4500 from 203.0.113.7 for 2 hours (examples/vpn-ike)"
terraform plan -input=false -out=tfplan -var "network_acl_id=$ACL"

step "jitlint check: the plan against jit's safety rules"
terraform show -json tfplan | "$JITLINT" check -

step "terraform apply"
terraform apply -input=false tfplan

step "The grant, as terraform sees it"
terraform output grants

step "The grant, as AWS sees it (network ACL entries, and the tags that record each grant)"
"$PYTHON" "$ROOT/scripts/demo_aws.py" show "$ENDPOINT" "$ACL"

step "terraform plan again: nothing to do until the grant expires"
if ! terraform plan -input=false -detailed-exitcode -var "network_acl_id=$ACL"; then
    echo "error: the plan right after apply is not empty (or failed): a provider bug" >&2
    exit 1
fi

step "terraform destroy: revoke the grant now"
terraform destroy -input=false -auto-approve -var "network_acl_id=$ACL"
"$PYTHON" "$ROOT/scripts/demo_aws.py" show "$ENDPOINT" "$ACL"

step "Scenario 2 (examples/remote-work-allowlist): the office range for good, a home address for 10 hours"
cp -R "$ROOT/examples/remote-work-allowlist" "$WORK/remote-work-allowlist"
cd "$WORK/remote-work-allowlist"
# The lock file a team commits: init installs exactly what it pins, and changes nothing.
cp "$WORK/vpn-ike/.terraform.lock.hcl" .
terraform init -input=false -lockfile=readonly
terraform plan -input=false -out=tfplan -var 'home_addresses={"alice":"203.0.113.7"}'
terraform show -json tfplan | "$JITLINT" check -
terraform apply -input=false tfplan

step "The allowlist: each temporary entry and when AWS stops admitting it"
terraform output home_addresses

step "The rendered policy: the fence, and a statement that denies the home address once it expires"
terraform state show -no-color jit_source_ip_policy.remote

step "terraform destroy"
terraform destroy -input=false -auto-approve -var 'home_addresses={"alice":"203.0.113.7"}'

step "Done: moto is stopped and the temporary directory removed"
