#!/usr/bin/env python3
"""Counts the AWS requests of one `terraform plan` over many jit grants and times that plan against the same plan
over `terraform_data` resources. Started by scripts/bench-provider.sh, with the moto venv's Python (for boto3).

Requests are counted twice, independently, for the one plan run with provider debug logging on:
  - moto's request log (every HTTP request that reached the local AWS): this is the figure checked against the
    target, because it also sees requests the provider might fail to count;
  - the provider's own `aws_request=` debug lines (TF_LOG_PROVIDER=debug into TF_LOG_PATH), which name each
    operation. The two must agree.
Plan times come from separate runs without logging, the jit and terraform_data plans alternating.

Exit status: 0 all targets met, 1 a target missed, 2 a tool failed.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import boto3

REGION = "us-east-1"
PROVIDER_SOURCE = "registry.terraform.io/jit-access/jit"
TARGET_REQUESTS = 30
TARGET_RATIO = 1.5
# Smoke bound: the provider's first read fetches every ACL holding a jit grant in one DescribeNetworkAcls and
# serves the refresh from that 5 s snapshot: one request, plus room for one more should the refresh outlast the
# snapshot on a slow machine. Reading per ACL or per grant would exceed it (the smoke run uses 4 ACLs).
SMOKE_MAX_REQUESTS = 2

# werkzeug's access log line: 127.0.0.1 - - [date] "POST / HTTP/1.1" 200 -
MOTO_REQUEST = re.compile(r'"(?:GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP/[\d.]+" \d{3}')
# Where terraform writes a provider's stderr line in TF_LOG_PATH: `TIME [LEVEL] provider.terraform-provider-jit: `
# followed by the line itself (raw JSON when go-plugin could not parse it as hclog) or by go-plugin's rendering of
# it as `message: key=value ...`.
PROVIDER_LINE = re.compile(r"^(\S+) \[\w+\]\s+provider\.terraform-provider-jit: (.*)$")
KEY_VALUE = re.compile(r"(?:^|\s)(@?\w+)=(\S+)")


class Failed(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Moto:
    """A private local AWS (scripts/local-aws.sh: moto behind the strict proxy) on a free loopback port, logging
    to a file: moto's line per request it served, and the proxy's own lines."""

    def __init__(self, local_aws, work):
        self.log_path = work / "moto.log"
        with open(self.log_path, "wb") as out:
            # It prints its endpoint as the first line of stdout once it answers requests.
            self.proc = subprocess.Popen(
                ["bash", str(local_aws)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=out,
            )
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise Failed(f"the local AWS did not start; its output:\n{self.log_path.read_text(errors='replace')}")
        self.endpoint = line

    def requests(self):
        """AWS API requests moto has served so far (its own /moto-api/ calls excluded), in order. The proxy's own
        log lines do not match: they are not werkzeug's access-log format."""
        text = self.log_path.read_text(errors="replace")
        return [m.group(1) for m in MOTO_REQUEST.finditer(text) if not m.group(1).startswith("/moto-api")]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def create_acls(endpoint, count):
    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"] for _ in range(count)]


def jit_config(acls, grants):
    acl_list = ", ".join(f'"{a}"' for a in acls)
    # Automatic numbering (no rule_number) on purpose: it exercises allocation on every create. Alternate blocks
    # of grants go egress, so both directions of every ACL fill up.
    return f"""terraform {{
  required_providers {{
    jit = {{ source = "jit-access/jit" }}
  }}
}}

provider "jit" {{
  region       = "{REGION}"
  rule_numbers = {{ from = 100, to = 199 }}
}}

locals {{
  acls = [{acl_list}]
}}

resource "jit_access_rule" "g" {{
  count          = {grants}
  network_acl_id = local.acls[count.index % length(local.acls)]
  cidr_block     = "198.18.${{floor(count.index / 256)}}.${{count.index % 256}}/32"
  protocol       = "tcp"
  from_port      = 443
  egress         = floor(count.index / length(local.acls)) % 2 == 1
  ttl            = "12h"
  reason         = "benchmark grant ${{count.index}}"
}}
"""


def data_config(acls, grants):
    """The same resources as terraform_data (built into terraform: no provider process at all)."""
    acl_list = ", ".join(f'"{a}"' for a in acls)
    return f"""locals {{
  acls = [{acl_list}]
}}

resource "terraform_data" "g" {{
  count = {grants}
  input = {{
    network_acl_id = local.acls[count.index % length(local.acls)]
    cidr_block     = "198.18.${{floor(count.index / 256)}}.${{count.index % 256}}/32"
    protocol       = "tcp"
    from_port      = 443
    egress         = floor(count.index / length(local.acls)) % 2 == 1
    ttl            = "12h"
    reason         = "benchmark grant ${{count.index}}"
  }}
}}
"""


def base_env(work, provider_dir, endpoint):
    cli = work / "cli.tfrc"
    cli.write_text(
        "provider_installation {\n"
        f'  dev_overrides {{\n    "{PROVIDER_SOURCE}" = "{provider_dir}"\n  }}\n'
        "  direct {}\n}\n"
    )
    # Nothing from the caller's shell that changes terraform or the SDK: no TF_LOG, TF_CLI_ARGS, profiles.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    no_aws_files = str(work / "no-aws-config")
    env.update(
        TF_CLI_CONFIG_FILE=str(cli),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=no_aws_files,
        AWS_SHARED_CREDENTIALS_FILE=no_aws_files,
        NO_PROXY=",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])),
    )
    return env


def terraform(args, cwd, env, ok=(0,), label=None):
    """Runs terraform; returns (exit code, wall seconds). Output goes to a file, shown when the exit is not ok."""
    out_path = cwd / "terraform.out"
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        code = subprocess.run(
            ["terraform", *args],
            check=False,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
        elapsed = time.perf_counter() - start
    if code not in ok:
        tail = "\n".join(out_path.read_text(errors="replace").splitlines()[-30:])
        raise Failed(
            f"`terraform {' '.join(args)}` in {cwd.name} exited with {code} ({label or 'unexpected'}):\n{tail}"
        )
    return code, elapsed


PLAN = ["plan", "-input=false", "-no-color", "-detailed-exitcode"]


def empty_plan(cwd, env):
    """A refreshing plan that must find nothing to change (exit code 2 would mean drift or a provider bug)."""
    return terraform(PLAN, cwd, env, label="the plan right after apply must be empty")[1]


def provider_fields(line):
    """The structured fields of one provider log line in a TF_LOG_PATH file, with terraform's timestamp."""
    m = PROVIDER_LINE.match(line)
    if not m:
        return None
    stamp, rest = m.groups()
    fields = None
    if rest.startswith("{"):
        try:
            fields = json.loads(rest)
        except ValueError:
            fields = None
    if fields is None:
        fields = dict(KEY_VALUE.findall(rest))
    return datetime.fromisoformat(stamp).timestamp(), fields


def parse_provider_log(path):
    """AWS requests by operation, per-RPC summaries and the refresh's time span, from a TF_LOG_PATH file."""
    requests = Counter()
    summaries = Counter()
    rpcs_with_requests = Counter()
    read_times = []
    for line in path.read_text(errors="replace").splitlines():
        parsed = provider_fields(line)
        if parsed is None:
            continue
        at, fields = parsed
        if "aws_request" in fields:
            requests[fields["aws_request"]] += 1
        if "aws_requests" in fields and "operation" in fields:
            op = fields["operation"]
            summaries[op] += 1
            if int(fields["aws_requests"]):
                rpcs_with_requests[op] += 1
            if op == "ReadResource":
                read_times.append(at)
    span = read_times[-1] - read_times[0] if len(read_times) >= 2 else None
    return requests, summaries, rpcs_with_requests, span


def count_plan_requests(moto, cwd, env, work):
    debug_log = work / "plan-debug.log"
    debug_env = dict(env, TF_LOG_PROVIDER="debug", TF_LOG_PATH=str(debug_log))
    before = len(moto.requests())
    empty_plan(cwd, debug_env)
    # moto writes its access-log line after answering; give the last one a moment to reach the file.
    time.sleep(0.5)
    moto_count = len(moto.requests()) - before
    requests, summaries, with_requests, span = parse_provider_log(debug_log)
    return moto_count, requests, summaries, with_requests, span


def median_times(runs, sides):
    """Alternates the sides run by run (ABBA order, so slow drift in machine load hits both alike)."""
    times = {name: [] for name in sides}
    names = list(sides)
    for i in range(runs):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(empty_plan(*sides[name]))
    return {name: statistics.median(ts) for name, ts in times.items()}, times


def main():
    sys.stdout.reconfigure(line_buffering=True)  # the report and the progress lines on stderr stay in order
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provider-dir", type=Path, required=True)
    ap.add_argument("--local-aws", required=True, help="scripts/local-aws.sh")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--grants", type=int, default=200)
    ap.add_argument("--acls", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if not (a.provider_dir / "terraform-provider-jit").is_file():
        raise Failed(f"{a.provider_dir / 'terraform-provider-jit'} does not exist; build it first")
    per_direction = -(-a.grants // a.acls // 2)
    if per_direction > 100:
        raise Failed(f"{a.grants} grants over {a.acls} ACLs need {per_direction} rule numbers per direction; max 100")

    moto = Moto(a.local_aws, a.work)
    try:
        return run(a, moto)
    finally:
        moto.stop()


def row(label, value):
    print(f"  {label:<44} {value}")


def verdict(passed):
    return "PASS" if passed else "FAIL"


def run(a, moto):
    acls = create_acls(moto.endpoint, a.acls)
    env = base_env(a.work, a.provider_dir.resolve(), moto.endpoint)
    jit_dir = a.work / "jit"
    jit_dir.mkdir()
    (jit_dir / "main.tf").write_text(jit_config(acls, a.grants))

    log(f"applying {a.grants} jit_access_rule grants over {a.acls} network ACLs")
    _, apply_s = terraform(["apply", "-auto-approve", "-input=false", "-no-color"], jit_dir, env)
    moto_count, requests, summaries, with_requests, span = count_plan_requests(moto, jit_dir, env, a.work)
    provider_count = sum(requests.values())

    tf_version = subprocess.run(["terraform", "version"], check=False, capture_output=True, text=True, env=env).stdout
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"terraform-provider-jit benchmark: {a.grants} grants over {a.acls} network ACLs ({a.profile} build)")
    row("machine:", f"{os.cpu_count()} CPUs, load average {load}; {tf_version.splitlines()[0]}")
    row("apply (create every grant):", f"{apply_s:.2f} s")
    breakdown = ", ".join(f"{op}={n}" for op, n in sorted(requests.items())) or "none"
    row("AWS requests in one terraform plan:", f"{moto_count} (moto request log)")
    row("", f"{provider_count} (provider debug log: {breakdown})")
    row(
        "ReadResource calls:",
        f"{summaries.get('ReadResource', 0)}, of which {with_requests.get('ReadResource', 0)} made a request",
    )
    if span is not None:
        row("refresh span (first to last read):", f"{span:.2f} s")
    if provider_count != moto_count:
        raise Failed(
            f"moto served {moto_count} requests but the provider logged {provider_count}: the request accounting "
            "(provider/src/aws/mod.rs) or the log parsing here is off"
        )

    if a.smoke:
        passed = moto_count <= SMOKE_MAX_REQUESTS
        row(f"target: requests <= {SMOKE_MAX_REQUESTS}:", verdict(passed))
        return 0 if passed else 1

    data_dir = a.work / "terraform_data"
    data_dir.mkdir()
    (data_dir / "main.tf").write_text(data_config(acls, a.grants))
    terraform(["apply", "-auto-approve", "-input=false", "-no-color"], data_dir, env)
    log(f"timing terraform plan, {a.runs} runs per side (after one warm-up each)")
    empty_plan(jit_dir, env)
    empty_plan(data_dir, env)
    medians, times = median_times(a.runs, {"jit": (jit_dir, env), "terraform_data": (data_dir, env)})
    ratio = medians["jit"] / medians["terraform_data"]
    for side in ("jit", "terraform_data"):
        runs = " ".join(f"{t:.2f}" for t in times[side])
        row(f"terraform plan, {side} (median of {a.runs}):", f"{medians[side]:.2f} s  [{runs}]")
    row("ratio jit / terraform_data:", f"{ratio:.2f}x")
    req_ok = moto_count <= TARGET_REQUESTS
    ratio_ok = ratio <= TARGET_RATIO
    row(f"target: requests <= {TARGET_REQUESTS}:", f"{verdict(req_ok)} ({moto_count})")
    row(f"target: plan time <= {TARGET_RATIO}x terraform_data:", f"{verdict(ratio_ok)} ({ratio:.2f}x)")
    return 0 if req_ok and ratio_ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        log(f"error: {e}")
        sys.exit(2)
