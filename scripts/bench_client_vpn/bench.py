#!/usr/bin/env python3
"""Cold start, warm latency and AWS calls per event of jit-client-vpn-handler, each next to its floor in the same
run. Started by scripts/bench-client-vpn-handler.sh, with the moto venv's Python (for boto3).

- The endpoint and its grant tags are created with boto3 in the local AWS (scripts/local-aws.sh), the tags in the
  `v=cvpn1` format of provider/src/grant/client_vpn.rs (one grant per user).
- A Lambda Runtime API emulator (this file) hands out events and timestamps the function's answers; latency is
  from handing an event out to receiving the answer.
- Cold start: from just before the process is started to its first answer, for an event whose grants it must read
  from the local AWS (one DescribeClientVpnEndpoints). Floor: the same for an event it refuses before any AWS call
  (a malformed one): what process start and the runtime client cost alone.
- Warm: one process, EVENTS events in a row (admitted and refused users alternating), answered from the 5 s
  snapshot; floor: the same number of malformed events.
- AWS calls: the local AWS's log lines for DescribeClientVpnEndpoints during the warm run, per event.

Exit status: 0 every goal met, 1 a goal missed, 2 a tool failed.
"""

import argparse
import json
import os
import queue
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

REGION = "us-east-1"
GOAL_COLD_MS = 100.0
GOAL_WARM_P99_MS = 5.0
GOAL_CALLS_PER_EVENT = 1.0
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, the handler's pinned clock is 30 minutes later
NOW = "2026-01-01T00:30:00Z"
DESCRIBE = re.compile(r"local-aws: ec2 DescribeClientVpnEndpoints ")


class Failed(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class LocalAws:
    """scripts/local-aws.sh on a free port, logging to a file."""

    def __init__(self, script, work):
        self.log_path = work / "local-aws.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                ["bash", str(script)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=out
            )
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise Failed(f"the local AWS did not start:\n{self.log_path.read_text(errors='replace')}")
        self.endpoint = line

    def describes(self):
        return len(DESCRIBE.findall(self.log_path.read_text(errors="replace")))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class RuntimeApi:
    """The Lambda Runtime API: /invocation/next blocks until an event is queued; answers are timestamped."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.handed_out = {}
        self.counter = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle and the client's delayed ACK
                # add some 40 ms to every exchange, and the emulator would measure itself.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                request_id, body = api.events.get()
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    f"arn:aws:lambda:{REGION}:123456789012:function:AWSClientVPN-jit",
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                api.handed_out[request_id] = time.perf_counter()
                self.wfile.write(data)
                self.wfile.flush()

            def do_POST(self):
                at = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path.rstrip("/").split("/")
                request_id, kind = parts[-2], parts[-1]
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.answers.put((request_id, kind, json.loads(body or b"null"), at, api.handed_out.pop(request_id, at)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A handler process killed at the end of a run resets its connection: expected, not worth a traceback.
        self.server.handle_error = lambda request, client_address: None
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def push(self, event):
        self.counter += 1
        self.events.put((f"request-{self.counter}", event))

    def answer(self, timeout=30):
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            raise Failed(f"the handler answered nothing within {timeout} s")


def grant_tag(i):
    # One grant per user, valid for 2 hours from T0 (see provider/src/grant/client_vpn.rs for the format).
    grant_id = "".join("abcdefghijklmnopqrstuvwxyz234567"[(i >> (5 * j)) & 31] for j in range(12))
    return f"jit:grant:{grant_id}", f"v=cvpn1;u=user{i};c={T0};e={T0 + 7200};t=2h"


def setup(endpoint_url, grants):
    ec2 = boto3.client(
        "ec2", endpoint_url=endpoint_url, region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/bench"
    endpoint = ec2.create_client_vpn_endpoint(
        ClientCidrBlock="10.100.0.0/22",
        ServerCertificateArn=cert,
        AuthenticationOptions=[
            {"Type": "certificate-authentication", "MutualAuthentication": {"ClientRootCertificateChainArn": cert}}
        ],
        ConnectionLogOptions={"Enabled": False},
    )["ClientVpnEndpointId"]
    tags = [dict(zip(("Key", "Value"), grant_tag(i))) for i in range(grants)]
    for start in range(0, len(tags), 20):
        ec2.create_tags(Resources=[endpoint], Tags=tags[start : start + 20])
    return endpoint


def event(endpoint, user):
    return {
        "connection-id": "cvpn-connection-0a1b2c3d4e5f60718",
        "endpoint-id": endpoint,
        "common-name": "",
        "username": user,
        "platform": "linux",
        "platform-version": "",
        "public-ip": "203.0.113.7",
        "client-openvpn-version": "2.6.8",
        "schema-version": "v2",
        "groups": [],
    }


MALFORMED = {"endpoint-id": "not-an-endpoint", "public-ip": "203.0.113.7", "schema-version": "v2"}


def environment(endpoint_url, api):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "AWSClientVPN-jit",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "JIT_TEST_NOW": NOW,
            "JITCTL_LOG": "error",
        }
    )
    return env


def start(handler, env):
    return subprocess.Popen(
        [handler], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def cold_start(handler, endpoint_url, first_event):
    """Milliseconds from just before the process starts to its first answer."""
    api = RuntimeApi()
    api.push(first_event)
    began = time.perf_counter()
    proc = start(handler, environment(endpoint_url, api))
    try:
        _, kind, body, at, _ = api.answer()
    finally:
        proc.kill()
        proc.wait()
        api.server.shutdown()
    if kind != "response":
        raise Failed(f"the first answer was an {kind}: {body}")
    return (at - began) * 1000, body


def warm(handler, endpoint_url, events):
    """Per-event latencies (ms) of one process answering `events` one after another (after one warm-up event)."""
    api = RuntimeApi()
    proc = start(handler, environment(endpoint_url, api))
    try:
        api.push(events[0])
        api.answer()
        out = []
        for e in events:
            api.push(e)
            _, kind, body, at, handed = api.answer()
            if kind != "response":
                raise Failed(f"an answer was an {kind}: {body}")
            out.append((at - handed) * 1000)
        return out
    finally:
        proc.kill()
        proc.wait()
        api.server.shutdown()


def p99(xs):
    return statistics.quantiles(xs, n=100, method="inclusive")[98]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--handler", required=True, type=Path)
    ap.add_argument("--local-aws", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--cold", type=int, default=15)
    ap.add_argument("--grants", type=int, default=40)
    a = ap.parse_args()
    if not a.handler.is_file():
        raise Failed(f"{a.handler} does not exist; build it first")
    aws = LocalAws(a.local_aws, a.work)
    try:
        endpoint = setup(aws.endpoint, min(a.grants, 49))
        admitted = event(endpoint, "user1")
        cold, cold_floor = [], []
        for _ in range(a.cold):
            ms, body = cold_start(a.handler, aws.endpoint, admitted)
            if body.get("allow") is not True:
                raise Failed(f"the cold start's event was not admitted: {body}")
            cold.append(ms)
            cold_floor.append(cold_start(a.handler, aws.endpoint, MALFORMED)[0])
        users = [f"user{i % (2 * min(a.grants, 49))}" for i in range(a.events)]
        before = aws.describes()
        started = time.perf_counter()
        lat = warm(a.handler, aws.endpoint, [event(endpoint, u) for u in users])
        elapsed = time.perf_counter() - started
        calls = aws.describes() - before
        floor = warm(a.handler, aws.endpoint, [MALFORMED] * a.events)
    finally:
        aws.stop()

    per_event = calls / (a.events + 1)
    rows = [
        ("cold start, median of %d (process start to first answer, grants read)" % a.cold, statistics.median(cold),
         statistics.median(cold_floor), f"< {GOAL_COLD_MS:.0f} ms", statistics.median(cold) < GOAL_COLD_MS),
        ("warm answer, median of %d" % a.events, statistics.median(lat), statistics.median(floor), "", True),
        ("warm answer, p99 of %d" % a.events, p99(lat), p99(floor), f"< {GOAL_WARM_P99_MS:.0f} ms",
         p99(lat) < GOAL_WARM_P99_MS),
    ]
    print(f"jit-client-vpn-handler ({a.profile} build), {min(a.grants, 49)} grants on the endpoint, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'figure':<72} {'jit':>9} {'floor':>9}  goal")
    ok = True
    for name, value, fl, goal, met in rows:
        ok &= met
        print(f"{name:<72} {value:>6.2f} ms {fl:>6.2f} ms  {goal}{'' if met else '  MISSED'}")
    calls_ok = per_event <= GOAL_CALLS_PER_EVENT
    ok &= calls_ok
    print(f"{'AWS calls per event (DescribeClientVpnEndpoints, warm run)':<72} {per_event:>9.4f} {0:>9}  "
          f"<= 1, none on a cache hit{'' if calls_ok else '  MISSED'} ({calls} in {a.events + 1} events over "
          f"{elapsed:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        log(f"error: {e}")
        sys.exit(2)
