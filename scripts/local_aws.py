#!/usr/bin/env python3
"""The strict local AWS: a proxy in front of moto that refuses what AWS refuses, and injects faults on request.

moto (the local AWS of the tests and the demo) accepts much that AWS refuses: NACL entries beyond the quota,
invalid CIDRs and rule numbers, deletes of missing entries (answered with HTTP 500), oversize policies, bad tags.
This proxy starts `moto_server` as a child on a free loopback port, forwards every request to it, and in between
enforces AWS's rules for the EC2 and IAM calls jit makes, answering with AWS's own error formats. Everything else
passes through unchanged. The rules:
  - CreateNetworkAclEntry / ReplaceNetworkAclEntry: rule number 1-32766, protocol, ports 0-65535 (required for tcp
    and udp), CIDR syntax, rule action; at most 20 entries per direction (rule 32767 not counted; 1 to 40 through
    /_jit/limits), else NetworkAclEntryLimitExceeded. Replace/DeleteNetworkAclEntry of a missing entry:
    InvalidNetworkAclEntry.NotFound (moto: HTTP 500). Unknown ACL: InvalidNetworkAclID.NotFound.
  - Any EC2 action with DryRun=true: DryRunOperation (HTTP 412), after the checks above, without acting.
  - CreateTags: at most 50 tags per resource counting the existing ones (TagLimitExceeded), key <= 128 and value
    <= 256 characters, no `aws:` keys; tagging an unknown ACL id: InvalidNetworkAclID.NotFound. (DeleteTags with
    a value deletes only on a match: moto already does this.)
  - Client VPN, which moto does not have at all, is served by the layer itself (per region, in memory, cleared by
    /_jit/reset): CreateClientVpnEndpoint (client CIDR /12-/22, authentication, connection logging, a client-connect
    Lambda whose name begins with AWSClientVPN- in the endpoint's region, TagSpecification of type
    client-vpn-endpoint under the tag rules above, ClientToken idempotency), DescribeClientVpnEndpoints (ids,
    filters endpoint-id and transport-protocol, tags in tagSet, MaxResults 5-1000 and NextToken),
    DeleteClientVpnEndpoint, DescribeClientVpnConnections (filters connection-id and username; terminated
    connections stay listed for an hour), TerminateClientVpnConnections (by ConnectionId, or by Username for up to
    five active connections; terminating a terminated connection changes nothing). CreateTags/DeleteTags on
    cvpn-endpoint-... ids follow the tag rules above (DeleteTags with a value, even empty, only on a match). An
    unknown endpoint is InvalidClientVpnEndpointId.NotFound, an unknown connection
    InvalidClientVpnConnection.IdNotFound. Clients "connect" through the control endpoint (below).
  - SNS (the client-connect handler's notifications) passes through to moto unchanged.
  - IAM CreatePolicy / TagPolicy tags: at most 50 per policy, key <= 128, value <= 256, only Unicode letters,
    digits, spaces and `_ . : / = + - @` (ValidationError), no `aws:` keys (InvalidInput).
  - CreatePolicy / CreatePolicyVersion: a document over 6,144 characters without whitespace is LimitExceeded
    "Cannot exceed quota for PolicySize: 6144"; an invalid IP in aws:SourceIp is MalformedPolicyDocument.
  - DeletePolicy with non-default versions or attachments: DeleteConflict.
  - CreateNetworkAcl: the new ACL gets AWS's two `*` entries (rule 32767, deny all traffic, one per direction).
Per-request work is one or two reads from moto, only for the calls above; check and act are atomic per resource.

It can also inject faults, off by default: throttling, HTTP 500, a connection dropped before forwarding, a
connection dropped after moto acted (the lost response that makes an SDK retry a request AWS already performed),
and latency, on EC2 (Client VPN included), IAM and SNS requests; the sequence is deterministic for a seed.
Requests signed with an access key id listed in `exempt_access_keys` (default `harness`, the tests' own
verification clients) are never faulted.

Control endpoint, on the same port (JSON):
  GET  /_jit/faults   the fault configuration, and counters of injected faults per action and kind
  POST /_jit/faults   set the fault configuration (restarts the seeded sequence and clears the counters);
                      {} turns faults off
  GET  /_jit/limits   the quotas in force, e.g. {"nacl_rules_per_direction": 20}
  POST /_jit/limits   change them
  GET  /_jit/hold     the crash trap: its configuration, how many matching requests it saw, and the request it
                      holds (null until one is held)
  POST /_jit/hold     arm it: {"action": "CreateTags", "when": "before"|"after", "nth": 1, "match": ";i=1"} holds
                      the nth request of that action (whose parameters contain `match`) without an answer, before
                      moto sees it or after moto acted, until the next POST (which releases it; {} disarms)
  POST /_jit/reset    reset moto (all state), the Client VPN endpoints, and the fault counters and sequence
  POST /_jit/client-vpn/connections   a client connects: {"endpoint_id", optional "connection_id", "username",
                      "common_name", "client_ip", "posture_compliance_statuses"}; answers the connection
  GET  /_jit/client-vpn/connections?endpoint_id=ID   the endpoint's connections with their status

Environment at start: JIT_LOCAL_AWS_NACL_RULES_PER_DIRECTION (default 20), JIT_LOCAL_AWS_FAULTS (JSON as for
POST /_jit/faults).

Usage: local_aws.py --moto-server PATH [--port N] [--exit-on-stdin-eof]
Prints `http://127.0.0.1:PORT` as the first line of stdout once it answers requests; logs to stderr; stops moto and
exits 0 on SIGTERM or SIGINT (or when stdin closes, with --exit-on-stdin-eof).

Standard library only (Python 3.9+).
"""

import argparse
import ctypes
import http.client
import ipaddress
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape

EC2_VERSION = "2016-11-15"
IAM_VERSION = "2010-05-08"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
DEFAULT_NACL_RULES = 20
MAX_NACL_RULES = 40
DEFAULT_RULE = 32767
MAX_TAGS = 50
MAX_POLICY_CHARS = 6144
# The services whose requests faults are injected into.
FAULTED_SERVICES = ("ec2", "iam", "sns")
FAULT_KINDS = ("throttle", "internal_error", "drop_before", "drop_after", "latency")
# Request headers not copied into the requests the proxy makes to moto itself.
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "expect", "te", "upgrade"}
# moto's response headers that describe its own connection, not the answer.
SKIP_RESPONSE_HEADERS = HOP_HEADERS | {"server", "date"}
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/([^/]*)/")
# IAM's tag pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*, by Unicode category.
IAM_TAG_EXTRA = set("_.:/=+-@")
IAM_TAG_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"


def log(msg):
    print(f"local-aws: {msg}", file=sys.stderr, flush=True)


class AwsError(Exception):
    """An error answer in AWS's format for the service."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def ec2_error_body(code, message):
    return (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()


def iam_error_body(code, message):
    """An error in the query protocol's format (IAM, and SNS: the SDKs read it without regard to the namespace)."""
    return (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{IAM_NS}\"><Error><Type>Sender</Type>"
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def local_name(tag):
    return tag.rsplit("}", 1)[-1]


def children(elem, name):
    return [c for c in elem if local_name(c.tag) == name]


def child_text(elem, name):
    for c in elem:
        if local_name(c.tag) == name:
            return c.text or ""
    return None


def find_all(elem, name):
    return [e for e in elem.iter() if local_name(e.tag) == name]


def members(params, prefix):
    """Indexed list parameters `PREFIX.N[.SUB]` as [(N, {SUB: value})], ordered by N."""
    out = {}
    for key, value in params.items():
        if not key.startswith(prefix + "."):
            continue
        rest = key[len(prefix) + 1 :]
        index, _, sub = rest.partition(".")
        if index.isdigit():
            out.setdefault(int(index), {})[sub] = value
    return sorted(out.items())


def values(params, prefix):
    """Indexed scalar list parameters `PREFIX.N`, ordered by N."""
    return [m[""] for _, m in members(params, prefix) if "" in m]


# ---------------------------------------------------------------------------------------------------------------
# Fault injection


class Faults:
    """The fault configuration, its seeded random sequence and the counters, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.configure({})

    def configure(self, cfg):
        if not isinstance(cfg, dict):
            raise ValueError("the fault configuration must be a JSON object")
        known = {"seed", "rate", "kinds", "actions", "include_reads", "latency_ms", "exempt_access_keys"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        seed = cfg.get("seed", 0)
        rate = float(cfg.get("rate", 0.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {rate} is not a probability between 0 and 1")
        kinds = cfg.get("kinds", {k: 1 for k in FAULT_KINDS if k != "latency"})
        if isinstance(kinds, list):
            kinds = {k: 1 for k in kinds}
        bad = set(kinds) - set(FAULT_KINDS)
        if bad:
            raise ValueError(f"unknown fault kinds {sorted(bad)}; known: {list(FAULT_KINDS)}")
        weights = {k: float(w) for k, w in kinds.items() if float(w) > 0}
        if rate > 0 and not weights:
            raise ValueError("a positive rate needs at least one fault kind with a positive weight")
        actions = cfg.get("actions")
        if actions is not None and not isinstance(actions, list):
            raise ValueError("actions must be a list of action names, or null for every mutating action")
        clean = {
            "seed": seed,
            "rate": rate,
            "kinds": weights,
            "actions": actions,
            "include_reads": bool(cfg.get("include_reads", False)),
            "latency_ms": int(cfg.get("latency_ms", 200)),
            "exempt_access_keys": list(cfg.get("exempt_access_keys", ["harness"])),
        }
        with self.lock:
            self.cfg = clean
            self.rng = random.Random(seed)
            self.counts = {}
            self.eligible = 0

    def restart(self):
        with self.lock:
            self.rng = random.Random(self.cfg["seed"])
            self.counts = {}
            self.eligible = 0

    def snapshot(self):
        with self.lock:
            return {"config": self.cfg, "counts": self.counts, "eligible_requests": self.eligible}

    def draw(self, service, action, access_key):
        """The fault kind to inject into this request, or None; counts it."""
        with self.lock:
            cfg = self.cfg
            if cfg["rate"] <= 0 or access_key in cfg["exempt_access_keys"] or service not in FAULTED_SERVICES:
                return None
            if cfg["actions"] is not None:
                if action not in cfg["actions"]:
                    return None
            elif not (cfg["include_reads"] or is_mutating(action)):
                return None
            self.eligible += 1
            if self.rng.random() >= cfg["rate"]:
                return None
            kinds = sorted(cfg["kinds"])
            kind = self.rng.choices(kinds, weights=[cfg["kinds"][k] for k in kinds])[0]
            per_action = self.counts.setdefault(action, {})
            per_action[kind] = per_action.get(kind, 0) + 1
            return kind

    def exempt(self):
        with self.lock:
            return list(self.cfg["exempt_access_keys"])

    def latency_s(self):
        with self.lock:
            return self.cfg["latency_ms"] / 1000.0


def is_mutating(action):
    return not action.startswith(("Describe", "Get", "List", "Simulate"))


class Hold:
    """A one-shot trap for crash tests: the `nth` request of `action` (whose parameters contain `match`, when
    given) is held without an answer, before it reaches moto or after moto acted, until released. The test sees
    that it is held, kills its client at exactly that write step, and releases it; the held connection is then
    closed without an answer."""

    def __init__(self):
        self.cond = threading.Condition()
        self.configure({})

    def configure(self, cfg):
        if not isinstance(cfg, dict):
            raise ValueError("the hold must be a JSON object")
        unknown = set(cfg) - {"action", "when", "nth", "match"}
        if unknown:
            raise ValueError(f"unknown hold settings {sorted(unknown)}; known: action, when, nth, match")
        when = cfg.get("when", "before")
        if when not in ("before", "after"):
            raise ValueError(f"when must be before or after, not {when!r}")
        nth = int(cfg.get("nth", 1))
        if nth < 1:
            raise ValueError(f"nth counts from 1, not {nth}")
        with self.cond:
            self.action = cfg.get("action")
            self.when = when
            self.nth = nth
            self.match = cfg.get("match")
            self.seen = 0
            self.held = None
            self.generation = getattr(self, "generation", 0) + 1
            self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return {
                "action": self.action,
                "when": self.when,
                "nth": self.nth,
                "match": self.match,
                "seen": self.seen,
                "held": self.held,
            }

    def trap(self, action, params, access_key, exempt):
        """Whether this request is the one to hold (counts it)."""
        with self.cond:
            if self.action is None or action != self.action or access_key in exempt:
                return False
            if self.match is not None and not any(self.match in v for v in params.values()):
                return False
            self.seen += 1
            return self.seen == self.nth

    def wait(self, action, params):
        """Marks the request held and blocks until the hold is released or replaced."""
        with self.cond:
            self.held = {"action": action, "when": self.when, "params": params}
            generation = self.generation
            self.cond.notify_all()
            while self.generation == generation:
                self.cond.wait()


# ---------------------------------------------------------------------------------------------------------------
# Talking to moto


class Moto:
    def __init__(self, server):
        # moto dies with us even if we are killed: PR_SET_PDEATHSIG on Linux.
        def die_with_parent():
            try:
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
            except (OSError, AttributeError):
                pass

        self.proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )
        port_found = threading.Event()
        self.port = None

        def pump():
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if self.port is None:
                    m = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
                    if m:
                        self.port = int(m.group(1))
                        port_found.set()
                print(line, file=sys.stderr, flush=True)
            port_found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        port_found.wait(60)
        if self.port is None:
            self.stop()
            raise SystemExit("local-aws: moto did not print its port (its output is above)")
        while True:
            try:
                status, _, _ = self.request("GET", "/moto-api/", b"", {})
                if status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("local-aws: moto did not answer GET /moto-api/")
            time.sleep(0.05)

    def request(self, method, path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Call:
    """One AWS query-protocol request as received: service, action, parameters, and how to ask moto for more."""

    def __init__(self, moto, headers, params, service, access_key, region):
        self.moto = moto
        self.params = params
        self.service = service
        self.access_key = access_key
        self.region = region
        self.action = params.get("Action", "")
        # Same credentials and account headers as the caller, so that moto answers from the caller's account.
        self.base_headers = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        self.base_headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"

    def query(self, action, params):
        """A request of the proxy's own to moto; returns (status, parsed XML root)."""
        version = EC2_VERSION if self.service == "ec2" else IAM_VERSION
        body = urlencode({"Action": action, "Version": version, **params}).encode()
        status, _, data = self.moto.request("POST", "/", body, self.base_headers)
        try:
            return status, ET.fromstring(data)
        except ET.ParseError:
            raise AwsError(500, "InternalError", f"moto answered {action} with something that is not XML")

    def query_ok(self, action, params):
        status, root = self.query(action, params)
        if status >= 300:
            codes = find_all(root, "Code")
            messages = find_all(root, "Message")
            raise AwsError(
                status,
                codes[0].text if codes else "InternalError",
                messages[0].text if messages else f"{action} failed",
            )
        return root


# ---------------------------------------------------------------------------------------------------------------
# The strict rules: EC2


def invalid(message):
    return AwsError(400, "InvalidParameterValue", message)


def parse_bool(value, name):
    v = value.lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise invalid(f"Value ({value}) for parameter {name} is invalid. Expected a boolean.")


def validate_nacl_entry(p):
    """Checks CreateNetworkAclEntry/ReplaceNetworkAclEntry parameters as AWS does; returns (acl, egress, number)."""
    acl = p.get("NetworkAclId")
    if not acl:
        raise AwsError(400, "MissingParameter", "The request must contain the parameter networkAclId")
    for name in ("RuleNumber", "Protocol", "RuleAction", "Egress"):
        if name not in p:
            lower = name[0].lower() + name[1:]
            raise AwsError(400, "MissingParameter", f"The request must contain the parameter {lower}")
    egress = parse_bool(p["Egress"], "egress")
    raw = p["RuleNumber"]
    try:
        number = int(raw)
    except ValueError:
        raise invalid(f"Value ({raw}) for parameter ruleNumber is invalid. Expected an integer.")
    if not 1 <= number <= DEFAULT_RULE - 1:
        raise invalid(
            f"Invalid value '{raw}' for ruleNumber. The rule number must be between 1 and {DEFAULT_RULE - 1}."
        )
    protocol = p["Protocol"].strip().lower()
    names = {"all": -1, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
    if protocol in names:
        proto_num = names[protocol]
    else:
        try:
            proto_num = int(protocol)
        except ValueError:
            raise invalid(f"Invalid value '{p['Protocol']}' for protocol. Unknown protocol.")
        if not (proto_num == -1 or 0 <= proto_num <= 255):
            raise invalid(f"Invalid value '{p['Protocol']}' for protocol. Unknown protocol.")
    action = p["RuleAction"]
    if action.lower() not in ("allow", "deny"):
        raise invalid(f"Value ({action}) for parameter ruleAction is invalid. Expected 'allow' or 'deny'.")
    cidr4, cidr6 = p.get("CidrBlock"), p.get("Ipv6CidrBlock")
    if bool(cidr4) == bool(cidr6):
        raise AwsError(
            400, "MissingParameter", "Either 'cidrBlock' or 'ipv6CidrBlock' should be provided, but not both."
        )
    if cidr4:
        check_cidr(cidr4, 4, "cidrBlock")
    if cidr6:
        check_cidr(cidr6, 6, "ipv6CidrBlock")
    if proto_num in (6, 17):
        ports = []
        for side in ("From", "To"):
            raw_port = p.get(f"PortRange.{side}")
            if raw_port is None:
                raise AwsError(400, "MissingParameter", "The request must contain the parameter portRange")
            try:
                port = int(raw_port)
            except ValueError:
                port = -1
            if not 0 <= port <= 65535:
                raise invalid(
                    f"Value ({raw_port}) for parameter portRange.{side.lower()} is invalid. "
                    "Ports must be between 0 and 65535."
                )
            ports.append(port)
        if ports[0] > ports[1]:
            raise invalid(f"Invalid port range {ports[0]}-{ports[1]}: the from port is above the to port.")
    return acl, egress, number


def check_cidr(value, version, name):
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        net = None
    if net is None or net.version != version or "/" not in value:
        raise invalid(f"Value ({value}) for parameter {name} is invalid. This is not a valid CIDR block.")


def nacl_entries(call, acl):
    """[(egress, rule number)] of the ACL, from moto; InvalidNetworkAclID.NotFound when it does not exist."""
    if not re.fullmatch(r"acl-[0-9a-f]+", acl):
        raise AwsError(400, "InvalidNetworkAclID.Malformed", f"Invalid id: \"{acl}\" (expecting \"acl-...\")")
    status, root = call.query("DescribeNetworkAcls", {"NetworkAclId.1": acl})
    acls = [] if status >= 300 else find_all(root, "networkAclSet")
    items = children(acls[0], "item") if acls else []
    if not items:
        raise AwsError(400, "InvalidNetworkAclID.NotFound", f"The network ACL ID '{acl}' does not exist")
    out = []
    for entry_set in children(items[0], "entrySet"):
        for e in children(entry_set, "item"):
            out.append((child_text(e, "egress") == "true", int(child_text(e, "ruleNumber") or 0)))
    return out


class Locks:
    """A lock per key (an ACL id, a resource id), so that check-then-act on one resource is atomic."""

    def __init__(self):
        self.guard = threading.Lock()
        self.locks = {}

    def get(self, key):
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())


class Strict:
    def __init__(self, nacl_rules):
        self.nacl_rules = nacl_rules
        self.locks = Locks()
        self.client_vpn = ClientVpn()

    # Each handler either raises AwsError, returns a (status, body) answer of its own, or returns a callable that
    # forwards the request (possibly rewritten) and is run while the handler's locks are held.

    def ec2(self, call, forward):
        p = call.params
        dry_run = p.get("DryRun", "false").lower() == "true"
        handler = {
            "CreateNetworkAclEntry": self.create_nacl_entry,
            "ReplaceNetworkAclEntry": self.replace_nacl_entry,
            "DeleteNetworkAclEntry": self.delete_nacl_entry,
            "CreateTags": self.create_tags,
            "CreateNetworkAcl": self.create_nacl,
            "DeleteTags": self.delete_tags,
        }.get(call.action)
        if handler is None and call.action in CLIENT_VPN_ACTIONS:
            return self.client_vpn.handle(call, dry_run)
        if handler is None:
            if dry_run:
                raise dry_run_error()
            return forward(None)
        return handler(call, forward, dry_run)

    def create_nacl(self, call, forward, dry_run):
        """AWS gives every new network ACL its two `*` rules (number 32767, deny all, one per direction); moto
        gives them only to a VPC's default ACL."""
        if dry_run:
            raise dry_run_error()
        answer = forward(None)
        if answer[0] == 200:
            ids = find_all(ET.fromstring(answer[2]), "networkAclId")
            if ids and ids[0].text:
                for egress in ("false", "true"):
                    call.query_ok(
                        "CreateNetworkAclEntry",
                        {
                            "NetworkAclId": ids[0].text,
                            "RuleNumber": str(DEFAULT_RULE),
                            "Protocol": "-1",
                            "RuleAction": "deny",
                            "Egress": egress,
                            "CidrBlock": "0.0.0.0/0",
                        },
                    )
        return answer

    def create_nacl_entry(self, call, forward, dry_run):
        acl, egress, number = validate_nacl_entry(call.params)
        with self.locks.get(acl):
            entries = nacl_entries(call, acl)
            taken = (egress, number) in entries
            used = sum(1 for e, n in entries if e == egress and n != DEFAULT_RULE)
            if taken:
                raise AwsError(
                    400,
                    "NetworkAclEntryAlreadyExists",
                    f"The network acl entry identified by {number} already exists.",
                )
            if used >= self.nacl_rules:
                raise AwsError(
                    400, "NetworkAclEntryLimitExceeded", "The maximum number of network acl entries has been reached."
                )
            if dry_run:
                raise dry_run_error()
            return forward(None)

    def replace_nacl_entry(self, call, forward, dry_run):
        acl, egress, number = validate_nacl_entry(call.params)
        with self.locks.get(acl):
            self.require_entry(call, acl, egress, number)
            if dry_run:
                raise dry_run_error()
            return forward(None)

    def delete_nacl_entry(self, call, forward, dry_run):
        p = call.params
        acl = p.get("NetworkAclId", "")
        for name in ("RuleNumber", "Egress"):
            if name not in p:
                lower = name[0].lower() + name[1:]
                raise AwsError(400, "MissingParameter", f"The request must contain the parameter {lower}")
        egress = parse_bool(p["Egress"], "egress")
        try:
            number = int(p["RuleNumber"])
        except ValueError:
            raise invalid(f"Value ({p['RuleNumber']}) for parameter ruleNumber is invalid. Expected an integer.")
        with self.locks.get(acl):
            self.require_entry(call, acl, egress, number)
            if dry_run:
                raise dry_run_error()
            return forward(None)

    @staticmethod
    def require_entry(call, acl, egress, number):
        if (egress, number) not in nacl_entries(call, acl):
            direction = "egress" if egress else "ingress"
            raise AwsError(
                400,
                "InvalidNetworkAclEntry.NotFound",
                f"The network ACL entry identified by {number} ({direction}) does not exist in {acl}.",
            )

    def create_tags(self, call, forward, dry_run):
        p = call.params
        resources = values(p, "ResourceId")
        tags = [(t.get("Key", ""), t.get("Value", "")) for _, t in members(p, "Tag")]
        if not resources:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter resourceIdSet")
        validate_ec2_tags(tags)
        endpoints = [r for r in resources if r.startswith("cvpn-endpoint-")]
        others = [r for r in resources if not r.startswith("cvpn-endpoint-")]
        new_keys = {k for k, _ in tags}
        locks = [self.locks.get(r) for r in sorted(set(others))]
        for lock in locks:
            lock.acquire()
        try:
            for r in others:
                if r.startswith("acl-"):
                    nacl_entries(call, r)
            self.client_vpn.check_tags(call, endpoints, new_keys)
            existing = self.ec2_tag_keys(call, others) if others else {}
            for r in others:
                if len(existing.get(r, set()) | new_keys) > MAX_TAGS:
                    raise tag_limit(r)
            if dry_run:
                raise dry_run_error()
            # moto tags what it knows; the layer's Client VPN endpoints are tagged by the layer.
            answer = forward(None) if not endpoints else forward(rewrite_resources(p, others)) if others else None
            if answer is not None and answer[0] >= 300:
                return answer
            self.client_vpn.put_tags(call, endpoints, dict(tags))
            return answer or xml_response("CreateTags", "<return>true</return>")
        finally:
            for lock in reversed(locks):
                lock.release()

    def delete_tags(self, call, forward, dry_run):
        p = call.params
        resources = values(p, "ResourceId")
        endpoints = [r for r in resources if r.startswith("cvpn-endpoint-")]
        if not endpoints:
            if dry_run:
                raise dry_run_error()
            return forward(None)
        others = [r for r in resources if not r.startswith("cvpn-endpoint-")]
        tags = [(t.get("Key", ""), t.get("Value")) for _, t in members(p, "Tag")]
        if not tags:
            raise invalid("DeleteTags of Client VPN endpoints needs the tags to delete (Tag.N.Key).")
        self.client_vpn.delete_tags(call, endpoints, tags, dry_run)
        if others:
            answer = forward(rewrite_resources(p, others))
            if answer[0] >= 300:
                return answer
        return xml_response("DeleteTags", "<return>true</return>")

    @staticmethod
    def ec2_tag_keys(call, resources):
        """{resource id: {tag key}} read from moto."""
        params = {"Filter.1.Name": "resource-id"}
        for i, r in enumerate(resources, 1):
            params[f"Filter.1.Value.{i}"] = r
        params["MaxResults"] = "1000"
        root = call.query_ok("DescribeTags", params)
        out = {}
        for item in find_all(root, "item"):
            rid, key = child_text(item, "resourceId"), child_text(item, "key")
            if rid is not None and key is not None:
                out.setdefault(rid, set()).add(key)
        return out

    # -----------------------------------------------------------------------------------------------------------
    # The strict rules: IAM

    def iam(self, call, forward):
        handler = {
            "CreatePolicy": self.create_policy,
            "CreatePolicyVersion": self.create_policy_version,
            "TagPolicy": self.tag_policy,
            "DeletePolicy": self.delete_policy,
        }.get(call.action)
        if handler is None:
            return forward(None)
        return handler(call, forward)

    def create_policy(self, call, forward):
        p = call.params
        tags = [(t.get("Key", ""), t.get("Value", "")) for _, t in members(p, "Tags.member")]
        validate_iam_tags(tags)
        if len(tags) > MAX_TAGS:
            raise iam_tag_limit()
        check_policy_document(p.get("PolicyDocument", ""))
        return forward(None)

    def create_policy_version(self, call, forward):
        check_policy_document(call.params.get("PolicyDocument", ""))
        return forward(None)

    def tag_policy(self, call, forward):
        p = call.params
        arn = p.get("PolicyArn", "")
        tags = [(t.get("Key", ""), t.get("Value", "")) for _, t in members(p, "Tags.member")]
        validate_iam_tags(tags)
        with self.locks.get(arn):
            status, root = call.query("ListPolicyTags", {"PolicyArn": arn, "MaxItems": "1000"})
            if status < 300:
                existing = {child_text(m, "Key") for m in find_all(root, "member")}
                if len(existing | {k for k, _ in tags}) > MAX_TAGS:
                    raise iam_tag_limit()
            return forward(None)

    def delete_policy(self, call, forward):
        arn = call.params.get("PolicyArn", "")
        with self.locks.get(arn):
            status, root = call.query("GetPolicy", {"PolicyArn": arn})
            if status < 300:
                count = find_all(root, "AttachmentCount")
                if count and int(count[0].text or 0) > 0:
                    raise AwsError(409, "DeleteConflict", "Cannot delete a policy attached to entities.")
                versions = call.query_ok("ListPolicyVersions", {"PolicyArn": arn, "MaxItems": "1000"})
                if len(find_all(versions, "VersionId")) > 1:
                    raise AwsError(
                        409,
                        "DeleteConflict",
                        "This policy has more than one version. Before you delete a policy, you must delete the "
                        "policy's versions. The default version is deleted with the policy.",
                    )
            return forward(None)


def dry_run_error():
    return AwsError(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")


def iam_tag_limit():
    return AwsError(
        409, "LimitExceeded", f"The number of tags has reached the maximum limit of {MAX_TAGS} tags per resource."
    )


def iam_tag_char_ok(ch):
    return ch in IAM_TAG_EXTRA or unicodedata.category(ch)[0] in ("L", "Z", "N")


def validate_iam_tags(tags):
    for i, (key, value) in enumerate(tags, 1):
        for field, text, limit in (("key", key, 128), ("value", value, 256)):
            if len(text) > limit:
                raise AwsError(
                    400,
                    "ValidationError",
                    f"1 validation error detected: Value '{text}' at 'tags.{i}.member.{field}' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {limit}",
                )
            if not all(iam_tag_char_ok(ch) for ch in text):
                raise AwsError(
                    400,
                    "ValidationError",
                    f"1 validation error detected: Value '{text}' at 'tags.{i}.member.{field}' failed to satisfy "
                    f"constraint: Member must satisfy regular expression pattern: {IAM_TAG_PATTERN}",
                )
        if not key:
            raise AwsError(
                400,
                "ValidationError",
                f"1 validation error detected: Value '' at 'tags.{i}.member.key' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1",
            )
        if key.lower().startswith("aws:"):
            raise AwsError(
                400, "InvalidInput", f"Tag key '{key}' is invalid: tag keys starting with 'aws:' are reserved for AWS."
            )


def check_policy_document(doc):
    if sum(1 for ch in doc if not ch.isspace()) > MAX_POLICY_CHARS:
        raise AwsError(409, "LimitExceeded", f"Cannot exceed quota for PolicySize: {MAX_POLICY_CHARS}")
    try:
        parsed = json.loads(doc)
    except ValueError:
        return  # moto answers MalformedPolicyDocument itself
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements if isinstance(statements, list) else []:
        cond = st.get("Condition") if isinstance(st, dict) else None
        if not isinstance(cond, dict):
            continue
        for op, block in cond.items():
            base = op.split(":")[-1]
            if base.endswith("IfExists"):
                base = base[: -len("IfExists")]
            if base not in ("IpAddress", "NotIpAddress") or not isinstance(block, dict):
                continue
            for key, values in block.items():
                if key.lower() != "aws:sourceip":
                    continue
                for v in values if isinstance(values, list) else [values]:
                    try:
                        ipaddress.ip_network(str(v), strict=False)
                    except ValueError:
                        raise AwsError(
                            400,
                            "MalformedPolicyDocument",
                            f"Policy document has an invalid IP address in aws:SourceIp: {v}",
                        )


# ---------------------------------------------------------------------------------------------------------------
# Client VPN: served by the layer itself (moto 5.2.5 has no Client VPN at all)

EC2_NS = f"http://ec2.amazonaws.com/doc/{EC2_VERSION}/"
LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(:[^:]+)?")
CVPN_AUTH_TYPES = ("certificate-authentication", "directory-service-authentication", "federated-authentication")
CVPN_ENDPOINT_FILTERS = ("endpoint-id", "transport-protocol")
CVPN_CONNECTION_FILTERS = ("connection-id", "username")
# AWS: "This option can only be used if the user has established up to five connections."
CVPN_TERMINATE_BY_USER_MAX = 5
CVPN_TERMINATED_KEPT_S = 3600
CLIENT_VPN_ACTIONS = (
    "CreateClientVpnEndpoint",
    "DescribeClientVpnEndpoints",
    "DeleteClientVpnEndpoint",
    "DescribeClientVpnConnections",
    "TerminateClientVpnConnections",
)


def rewrite_resources(p, resources):
    """The request's parameters with ResourceId.N replaced by `resources` (the part moto is to act on)."""
    out = {k: v for k, v in p.items() if not k.startswith("ResourceId.")}
    for i, r in enumerate(resources, 1):
        out[f"ResourceId.{i}"] = r
    return out


def cvpn_not_found(endpoint_id):
    return AwsError(
        400, "InvalidClientVpnEndpointId.NotFound", f"The Client VPN endpoint ID '{endpoint_id}' does not exist"
    )


def xml_response(action, inner):
    return (
        200,
        [("Content-Type", "text/xml;charset=UTF-8")],
        (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"<requestId>{uuid.uuid4()}</requestId>{inner}</{action}Response>"
        ).encode(),
    )


def el(name, value):
    """<name>value</name>, with the value escaped; nothing for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def validate_ec2_tags(tags):
    """EC2's tag rules for CreateTags and TagSpecification: no `aws:` or empty keys, key <= 128, value <= 256."""
    for key, value in tags:
        if key.lower().startswith("aws:"):
            raise invalid(
                f"Value ( {key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved "
                "for internal use"
            )
        if not key:
            raise invalid("Value ( ) for parameter key is invalid. Tag keys must not be empty")
        if len(key) > 128:
            raise invalid(f"Tag key exceeds the maximum length of 128 characters: {key[:40]}...")
        if len(value) > 256:
            raise invalid(f"Tag value exceeds the maximum length of 256 characters (tag key {key}).")


def tag_limit(resource):
    return AwsError(
        400,
        "TagLimitExceeded",
        f"The maximum number of Tags for a resource has been reached ({MAX_TAGS} on {resource}).",
    )


def page_bounds(p, total):
    """(start, end) of the page that MaxResults (5 to 1000) and NextToken select out of `total` items."""
    raw = p.get("MaxResults")
    size = 1000
    if raw is not None:
        try:
            size = int(raw)
        except ValueError:
            raise invalid(f"Value ({raw}) for parameter maxResults is invalid. Expected an integer.")
        if not 5 <= size <= 1000:
            raise invalid(f"Value ( {raw} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.")
    token = p.get("NextToken")
    start = 0
    if token:
        m = re.fullmatch(r"jit-page-(\d+)", token)
        if not m:
            raise AwsError(400, "InvalidNextToken", f"The token '{token}' is invalid.")
        start = int(m.group(1))
    return start, min(start + size, total)


def next_token(end, total):
    return el("nextToken", f"jit-page-{end}") if end < total else ""


def filters_of(p, known):
    """Filter.N.Name / Filter.N.Value.M as {name: [values]}; an unknown name is InvalidParameterValue."""
    out = {}
    for _, f in members(p, "Filter"):
        name = f.get("Name", "")
        if name not in known:
            raise invalid(f"The filter '{name}' is invalid. Valid filters: {', '.join(known)}.")
        vals = [v for k, v in sorted(f.items(), key=lambda kv: kv[0]) if k.startswith("Value.")]
        out.setdefault(name, []).extend(vals)
    return out


class ClientVpn:
    """Client VPN endpoints (per region), their tags and their client connections, behind one lock.

    Connections exist only through the control endpoint POST /_jit/client-vpn/connections (a client connecting is
    nothing an API call does); a terminated one stays visible, as `terminated`, for an hour, as in AWS."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.endpoints = {}  # id -> endpoint dict (with "region" and "tags", an ordered dict)
            self.connections = {}  # endpoint id -> [connection dict], in the order they connected
            self.client_tokens = {}  # (region, ClientToken) -> endpoint id

    # -- the API -------------------------------------------------------------------------------------------------

    def handle(self, call, dry_run):
        handler = {
            "CreateClientVpnEndpoint": self.create_endpoint,
            "DescribeClientVpnEndpoints": self.describe_endpoints,
            "DeleteClientVpnEndpoint": self.delete_endpoint,
            "DescribeClientVpnConnections": self.describe_connections,
            "TerminateClientVpnConnections": self.terminate_connections,
        }[call.action]
        with self.lock:
            return handler(call, call.params, dry_run)

    def endpoint(self, call, endpoint_id):
        """The endpoint `endpoint_id` of the caller's region; InvalidClientVpnEndpointId.NotFound otherwise."""
        ep = self.endpoints.get(endpoint_id)
        if ep is None or ep["region"] != call.region:
            raise cvpn_not_found(endpoint_id)
        return ep

    def create_endpoint(self, call, p, dry_run):
        for name in ("ClientCidrBlock", "ServerCertificateArn"):
            if not p.get(name):
                raise AwsError(400, "MissingParameter", f"The request must contain the parameter {name}")
        cidr = p["ClientCidrBlock"]
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            net = None
        if net is None or net.version != 4 or "/" not in cidr:
            raise invalid(f"Value ({cidr}) for parameter clientCidrBlock is invalid. This is not a valid CIDR block.")
        if not 12 <= net.prefixlen <= 22:
            raise invalid(
                f"Client CIDR range {cidr} must have a size of at least /22 and must not be greater than /12."
            )
        auths = []
        for _, a in members(p, "Authentication"):
            kind = a.get("Type", "")
            if kind not in CVPN_AUTH_TYPES:
                raise invalid(f"Value ({kind}) for parameter authentication.type is invalid.")
            auths.append(a)
        if not auths:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter Authentication")
        if len(auths) > 2:
            raise invalid("At most two authentication options can be specified.")
        if "ConnectionLogOptions.Enabled" not in p:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter ConnectionLogOptions")
        log_enabled = parse_bool(p["ConnectionLogOptions.Enabled"], "connectionLogOptions.enabled")
        if log_enabled and not p.get("ConnectionLogOptions.CloudwatchLogGroup"):
            raise invalid("A CloudWatch Logs log group is required when connection logging is enabled.")
        connect_enabled = parse_bool(p.get("ClientConnectOptions.Enabled", "false"), "clientConnectOptions.enabled")
        lambda_arn = p.get("ClientConnectOptions.LambdaFunctionArn")
        if connect_enabled:
            m = LAMBDA_ARN.fullmatch(lambda_arn or "")
            if not m:
                raise invalid(
                    f"Value ({lambda_arn}) for parameter lambdaFunctionArn is invalid. Expected a Lambda function ARN."
                )
            if not m.group(3).startswith("AWSClientVPN-"):
                raise invalid(f"The Lambda function name {m.group(3)} must begin with the prefix AWSClientVPN-.")
            if m.group(1) != call.region:
                raise invalid(f"The Lambda function must be in the Client VPN endpoint's region ({call.region}).")
        transport = p.get("TransportProtocol", "udp")
        if transport not in ("tcp", "udp"):
            raise invalid(f"Value ({transport}) for parameter transportProtocol is invalid.")
        port = p.get("VpnPort", "443")
        if port not in ("443", "1194"):
            raise invalid(f"Value ({port}) for parameter vpnPort is invalid. Valid values: 443, 1194.")
        tags = {}
        for _, spec in members(p, "TagSpecification"):
            rtype = spec.get("ResourceType", "")
            if rtype != "client-vpn-endpoint":
                raise invalid(f"'{rtype}' is not a valid taggable resource type for this operation.")
            pairs = [
                (spec.get(f"Tag.{n}.Key", ""), spec.get(f"Tag.{n}.Value", ""))
                for n in sorted({int(k.split(".")[1]) for k in spec if re.fullmatch(r"Tag\.\d+\.Key", k)})
            ]
            validate_ec2_tags(pairs)
            tags.update(pairs)
        if len(tags) > MAX_TAGS:
            raise tag_limit("the new Client VPN endpoint")
        token = p.get("ClientToken")
        if dry_run:
            raise dry_run_error()
        if token and (call.region, token) in self.client_tokens:
            ep = self.endpoints.get(self.client_tokens[(call.region, token)])
            if ep is not None:
                return xml_response("CreateClientVpnEndpoint", self.create_answer(ep))
        endpoint_id = "cvpn-endpoint-" + uuid.uuid4().hex[:17]
        ep = {
            "region": call.region,
            "id": endpoint_id,
            "description": p.get("Description"),
            "created": time.time(),
            "client_cidr": cidr,
            "server_certificate_arn": p["ServerCertificateArn"],
            "auths": auths,
            "log": {
                "enabled": log_enabled,
                "group": p.get("ConnectionLogOptions.CloudwatchLogGroup"),
                "stream": p.get("ConnectionLogOptions.CloudwatchLogStream"),
            },
            "connect": {"enabled": connect_enabled, "lambda": lambda_arn if connect_enabled else None},
            "transport": transport,
            "port": port,
            "split_tunnel": parse_bool(p.get("SplitTunnel", "false"), "splitTunnel"),
            "vpc_id": p.get("VpcId"),
            "security_groups": values(p, "SecurityGroupId"),
            "tags": tags,
        }
        self.endpoints[endpoint_id] = ep
        self.connections[endpoint_id] = []
        if token:
            self.client_tokens[(call.region, token)] = endpoint_id
        return xml_response("CreateClientVpnEndpoint", self.create_answer(ep))

    @staticmethod
    def dns_name(ep):
        return f"*.{ep['id']}.prod.clientvpn.{ep['region']}.amazonaws.com"

    def create_answer(self, ep):
        return el("clientVpnEndpointId", ep["id"]) + "<status><code>pending-associate</code></status>" + el(
            "dnsName", self.dns_name(ep)
        )

    def describe_endpoints(self, call, p, dry_run):
        ids = values(p, "ClientVpnEndpointId")
        filters = filters_of(p, CVPN_ENDPOINT_FILTERS)
        for i in ids:
            self.endpoint(call, i)
        if dry_run:
            raise dry_run_error()
        found = [ep for ep in self.endpoints.values() if ep["region"] == call.region and (not ids or ep["id"] in ids)]
        if "endpoint-id" in filters:
            found = [ep for ep in found if ep["id"] in filters["endpoint-id"]]
        if "transport-protocol" in filters:
            found = [ep for ep in found if ep["transport"] in filters["transport-protocol"]]
        start, end = page_bounds(p, len(found))
        items = "".join(f"<item>{self.endpoint_xml(ep)}</item>" for ep in found[start:end])
        return xml_response(
            "DescribeClientVpnEndpoints", f"<clientVpnEndpoint>{items}</clientVpnEndpoint>{next_token(end, len(found))}"
        )

    def endpoint_xml(self, ep):
        auths = ""
        for a in ep["auths"]:
            inner = el("type", a.get("Type"))
            if a.get("MutualAuthentication.ClientRootCertificateChainArn"):
                inner += "<mutualAuthentication>" + el(
                    "clientRootCertificateChain", a["MutualAuthentication.ClientRootCertificateChainArn"]
                ) + "</mutualAuthentication>"
            if a.get("ActiveDirectory.DirectoryId"):
                directory = el("directoryId", a["ActiveDirectory.DirectoryId"])
                inner += f"<activeDirectory>{directory}</activeDirectory>"
            if a.get("FederatedAuthentication.SAMLProviderArn"):
                inner += (
                    "<federatedAuthentication>"
                    + el("samlProviderArn", a["FederatedAuthentication.SAMLProviderArn"])
                    + el("selfServiceSamlProviderArn", a.get("FederatedAuthentication.SelfServiceSAMLProviderArn"))
                    + "</federatedAuthentication>"
                )
            auths += f"<item>{inner}</item>"
        log = ep["log"]
        connect = ep["connect"]
        tags = "".join(f"<item>{el('key', k)}{el('value', v)}</item>" for k, v in ep["tags"].items())
        groups = "".join(el("item", g) for g in ep["security_groups"])
        return (
            el("clientVpnEndpointId", ep["id"])
            + el("description", ep["description"])
            + "<status><code>pending-associate</code></status>"
            + el("creationTime", iso(ep["created"]))
            + el("dnsName", self.dns_name(ep))
            + el("clientCidrBlock", ep["client_cidr"])
            + el("splitTunnel", ep["split_tunnel"])
            + el("vpnProtocol", "openvpn")
            + el("transportProtocol", ep["transport"])
            + el("vpnPort", ep["port"])
            + el("serverCertificateArn", ep["server_certificate_arn"])
            + f"<authenticationOptions>{auths}</authenticationOptions>"
            + "<connectionLogOptions>"
            + el("Enabled", log["enabled"])
            + el("CloudwatchLogGroup", log["group"])
            + el("CloudwatchLogStream", log["stream"])
            + "</connectionLogOptions>"
            + f"<tagSet>{tags}</tagSet>"
            + f"<securityGroupIdSet>{groups}</securityGroupIdSet>"
            + el("vpcId", ep["vpc_id"])
            + "<clientConnectOptions>"
            + el("enabled", connect["enabled"])
            + el("lambdaFunctionArn", connect["lambda"])
            + "<status><code>applied</code></status></clientConnectOptions>"
            + el("sessionTimeoutHours", 24)
        )

    def delete_endpoint(self, call, p, dry_run):
        endpoint_id = p.get("ClientVpnEndpointId", "")
        self.endpoint(call, endpoint_id)
        if dry_run:
            raise dry_run_error()
        del self.endpoints[endpoint_id]
        self.connections.pop(endpoint_id, None)
        return xml_response("DeleteClientVpnEndpoint", "<status><code>deleting</code></status>")

    def live_connections(self, endpoint_id):
        """The endpoint's connections, without those terminated more than an hour ago."""
        now = time.time()
        conns = self.connections.get(endpoint_id, [])
        conns[:] = [c for c in conns if c["ended"] is None or now - c["ended"] < CVPN_TERMINATED_KEPT_S]
        return conns

    def describe_connections(self, call, p, dry_run):
        endpoint_id = p.get("ClientVpnEndpointId")
        if not endpoint_id:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter ClientVpnEndpointId")
        self.endpoint(call, endpoint_id)
        filters = filters_of(p, CVPN_CONNECTION_FILTERS)
        if dry_run:
            raise dry_run_error()
        found = self.live_connections(endpoint_id)
        if "connection-id" in filters:
            found = [c for c in found if c["id"] in filters["connection-id"]]
        if "username" in filters:
            found = [c for c in found if c["username"] in filters["username"]]
        start, end = page_bounds(p, len(found))
        items = "".join(f"<item>{self.connection_xml(endpoint_id, c)}</item>" for c in found[start:end])
        return xml_response(
            "DescribeClientVpnConnections", f"<connections>{items}</connections>{next_token(end, len(found))}"
        )

    @staticmethod
    def connection_xml(endpoint_id, c):
        statuses = "".join(el("item", s) for s in c["posture"])
        return (
            el("clientVpnEndpointId", endpoint_id)
            + el("timestamp", iso(time.time()).replace("T", " "))
            + el("connectionId", c["id"])
            + el("username", c["username"])
            + el("connectionEstablishedTime", iso(c["started"]).replace("T", " "))
            + el("ingressBytes", 0)
            + el("egressBytes", 0)
            + el("ingressPackets", 0)
            + el("egressPackets", 0)
            + el("clientIp", c["client_ip"])
            + el("commonName", c["common_name"])
            + f"<status>{el('code', c['status'])}</status>"
            + el("connectionEndTime", "-" if c["ended"] is None else iso(c["ended"]).replace("T", " "))
            + f"<postureComplianceStatusSet>{statuses}</postureComplianceStatusSet>"
        )

    def terminate_connections(self, call, p, dry_run):
        endpoint_id = p.get("ClientVpnEndpointId")
        if not endpoint_id:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter ClientVpnEndpointId")
        self.endpoint(call, endpoint_id)
        connection_id, username = p.get("ConnectionId"), p.get("Username")
        if bool(connection_id) == bool(username):
            raise AwsError(
                400,
                "InvalidParameterCombination",
                "Specify either a connection ID or a username, not both and not neither.",
            )
        conns = self.live_connections(endpoint_id)
        if connection_id:
            chosen = [c for c in conns if c["id"] == connection_id]
            if not chosen:
                raise AwsError(
                    400,
                    "InvalidClientVpnConnection.IdNotFound",
                    f"The connection ID '{connection_id}' does not exist on {endpoint_id}",
                )
        else:
            chosen = [c for c in conns if c["username"] == username and c["status"] == "active"]
            if len(chosen) > CVPN_TERMINATE_BY_USER_MAX:
                raise invalid(
                    f"User {username} has {len(chosen)} active connections; terminating by username works for up "
                    f"to {CVPN_TERMINATE_BY_USER_MAX}: terminate them by connection ID."
                )
        if dry_run:
            raise dry_run_error()
        now = time.time()
        out = ""
        for c in chosen:
            previous = c["status"]
            if previous == "active":
                c["status"], c["ended"] = "terminated", now
            current = "terminating" if previous == "active" else c["status"]
            out += (
                f"<item>{el('connectionId', c['id'])}<previousStatus>{el('code', previous)}</previousStatus>"
                f"<currentStatus>{el('code', current)}</currentStatus></item>"
            )
        return xml_response(
            "TerminateClientVpnConnections",
            el("clientVpnEndpointId", endpoint_id)
            + el("username", username)
            + f"<connectionStatuses>{out}</connectionStatuses>",
        )

    # -- tags (CreateTags / DeleteTags on cvpn-endpoint-… ids) ---------------------------------------------------

    def check_tags(self, call, resources, new_keys):
        """Refuses CreateTags of `new_keys` on these endpoints: unknown id, or over 50 tags counting existing ones."""
        with self.lock:
            for r in resources:
                ep = self.endpoint(call, r)
                if len(set(ep["tags"]) | new_keys) > MAX_TAGS:
                    raise tag_limit(r)

    def put_tags(self, call, resources, tags):
        with self.lock:
            for r in resources:
                self.endpoint(call, r)["tags"].update(tags)

    def delete_tags(self, call, resources, tags, dry_run):
        """DeleteTags: a tag given with a value (even empty) goes only when the value matches; without, always."""
        with self.lock:
            eps = [self.endpoint(call, r) for r in resources]
            if dry_run:
                raise dry_run_error()
            for ep in eps:
                for key, value in tags:
                    if key in ep["tags"] and (value is None or ep["tags"][key] == value):
                        del ep["tags"][key]

    # -- the control endpoint ------------------------------------------------------------------------------------

    def register_connection(self, cfg):
        """POST /_jit/client-vpn/connections: a client connected. Returns the connection as JSON."""
        if not isinstance(cfg, dict):
            raise ValueError("the body must be a JSON object")
        known = {"endpoint_id", "connection_id", "username", "common_name", "client_ip", "posture_compliance_statuses"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown connection fields {sorted(unknown)}; known: {sorted(known)}")
        endpoint_id = cfg.get("endpoint_id")
        with self.lock:
            if endpoint_id not in self.endpoints:
                raise ValueError(f"no Client VPN endpoint {endpoint_id!r}")
            conns = self.live_connections(endpoint_id)
            connection_id = cfg.get("connection_id") or "cvpn-connection-" + uuid.uuid4().hex[:17]
            if any(c["id"] == connection_id for c in conns):
                raise ValueError(f"connection {connection_id} exists already")
            posture = cfg.get("posture_compliance_statuses", [])
            if not isinstance(posture, list) or len(posture) > 10 or any(
                not isinstance(s, str) or len(s) > 255 for s in posture
            ):
                raise ValueError("posture_compliance_statuses: at most 10 strings of at most 255 characters")
            c = {
                "id": connection_id,
                "username": cfg.get("username", ""),
                "common_name": cfg.get("common_name", ""),
                "client_ip": cfg.get("client_ip", "10.0.0.2"),
                "posture": posture,
                "status": "active",
                "started": time.time(),
                "ended": None,
            }
            conns.append(c)
            return self.connection_json(endpoint_id, c)

    def list_connections(self, endpoint_id):
        """GET /_jit/client-vpn/connections?endpoint_id=…: every connection of the endpoint, as JSON."""
        with self.lock:
            if endpoint_id not in self.endpoints:
                raise ValueError(f"no Client VPN endpoint {endpoint_id!r}")
            return [self.connection_json(endpoint_id, c) for c in self.live_connections(endpoint_id)]

    @staticmethod
    def connection_json(endpoint_id, c):
        return {
            "endpoint_id": endpoint_id,
            "connection_id": c["id"],
            "username": c["username"],
            "common_name": c["common_name"],
            "client_ip": c["client_ip"],
            "posture_compliance_statuses": c["posture"],
            "status": c["status"],
        }


# ---------------------------------------------------------------------------------------------------------------
# The HTTP side


class Dropped(Exception):
    """Close the client's connection without an answer."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jit-local-aws"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the client's delayed ACK
        # add some 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # the per-request line is logged by handle_request itself
        pass

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        self.handle_request()

    def do_PUT(self):
        self.handle_request()

    def do_DELETE(self):
        self.handle_request()

    def do_HEAD(self):
        self.handle_request()

    def do_PATCH(self):
        self.handle_request()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in SKIP_RESPONSE_HEADERS:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send(status, [("Content-Type", "application/json")], json.dumps(obj, indent=1).encode())

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_request(self):
        app = self.server.app
        body = self.read_body()
        path = urlsplit(self.path).path
        if path.startswith("/_jit/"):
            self.control(app, path, body)
            return
        started = time.monotonic()
        auth = self.headers.get("Authorization", "")
        m = CREDENTIAL.search(auth)
        access_key, region, service = (m.group(1), m.group(2), m.group(3)) if m else ("", "", "")
        params = {}
        ctype = self.headers.get("Content-Type", "")
        if self.command == "POST" and "x-www-form-urlencoded" in ctype:
            params = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        query = urlsplit(self.path).query
        if query:
            params = {**dict(parse_qsl(query, keep_blank_values=True)), **params}
        action = params.get("Action", "")
        kind = app.faults.draw(service, action, access_key) if action else None
        held = bool(action) and app.hold.trap(action, params, access_key, app.faults.exempt())
        if held:
            kind = None
        fwd_headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}

        def forward(new_params):
            data = body if new_params is None else urlencode(new_params).encode()
            return app.moto.request(self.command, self.path, data, fwd_headers)

        try:
            if kind == "latency":
                time.sleep(app.faults.latency_s())
            elif kind == "throttle":
                if service == "ec2":
                    raise AwsError(503, "RequestLimitExceeded", "Request limit exceeded.")
                raise AwsError(400, "Throttling", "Rate exceeded")
            elif kind == "internal_error":
                if service in ("ec2", "sns"):
                    raise AwsError(500, "InternalError", "An internal error has occurred")
                raise AwsError(
                    500,
                    "ServiceFailure",
                    "The request processing has failed because of an unknown error, exception or failure.",
                )
            elif kind == "drop_before":
                raise Dropped()
            if held and app.hold.when == "before":
                app.hold.wait(action, params)
                raise Dropped()
            call = Call(app.moto, self.headers, params, service, access_key, region)
            if service == "ec2" and action:
                answer = app.strict.ec2(call, forward)
            elif service == "iam" and action:
                answer = app.strict.iam(call, forward)
            else:
                answer = forward(None)
            if held:
                app.hold.wait(action, params)
                raise Dropped()
            if kind == "drop_after":
                raise Dropped()
            self.send(*answer)
            status = answer[0]
        except AwsError as e:
            render = ec2_error_body if service == "ec2" else iam_error_body
            self.send(e.status, [("Content-Type", "text/xml")], render(e.code, e.message))
            status = f"{e.status} {e.code}"
        except Dropped:
            self.drop()
            status = "connection dropped"
        except Exception as e:  # a bug or moto gone: answer, and keep serving
            log(f"{service} {action}: {traceback.format_exc()}")
            render = ec2_error_body if service == "ec2" else iam_error_body
            self.send(500, [("Content-Type", "text/xml")], render("InternalError", f"local AWS proxy failed: {e}"))
            status = "500 proxy failure"
        ms = (time.monotonic() - started) * 1000
        fault = f" fault={kind}" if kind else ""
        log(f"{service or '-'} {action or self.path} -> {status}{fault} ({ms:.0f} ms)")

    def control(self, app, path, body):
        try:
            cfg = json.loads(body or b"{}") if self.command == "POST" else None
        except ValueError as e:
            self.send_json(400, {"error": f"the body is not JSON: {e}"})
            return
        try:
            if path == "/_jit/faults" and self.command == "GET":
                self.send_json(200, app.faults.snapshot())
            elif path == "/_jit/faults" and self.command == "POST":
                app.faults.configure(cfg)
                self.send_json(200, app.faults.snapshot())
            elif path == "/_jit/limits" and self.command == "GET":
                self.send_json(200, {"nacl_rules_per_direction": app.strict.nacl_rules})
            elif path == "/_jit/limits" and self.command == "POST":
                if not isinstance(cfg, dict) or set(cfg) - {"nacl_rules_per_direction"}:
                    raise ValueError("known limits: nacl_rules_per_direction")
                if "nacl_rules_per_direction" in cfg:
                    app.strict.nacl_rules = nacl_quota(cfg["nacl_rules_per_direction"])
                self.send_json(200, {"nacl_rules_per_direction": app.strict.nacl_rules})
            elif path == "/_jit/hold" and self.command == "GET":
                self.send_json(200, app.hold.snapshot())
            elif path == "/_jit/hold" and self.command == "POST":
                app.hold.configure(cfg)
                self.send_json(200, app.hold.snapshot())
            elif path == "/_jit/client-vpn/connections" and self.command == "POST":
                self.send_json(200, app.strict.client_vpn.register_connection(cfg))
            elif path == "/_jit/client-vpn/connections" and self.command == "GET":
                query = dict(parse_qsl(urlsplit(self.path).query))
                self.send_json(200, app.strict.client_vpn.list_connections(query.get("endpoint_id")))
            elif path == "/_jit/reset" and self.command == "POST":
                status, _, _ = app.moto.request("POST", "/moto-api/reset", b"", {})
                app.strict.client_vpn.reset()
                app.faults.restart()
                self.send_json(200 if status == 200 else 502, {"moto_reset_status": status})
            else:
                self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})
        except (ValueError, TypeError) as e:
            self.send_json(400, {"error": str(e)})


def nacl_quota(value):
    n = int(value)
    if not 1 <= n <= MAX_NACL_RULES:
        raise ValueError(f"nacl_rules_per_direction {n} is outside what AWS allows (1 to {MAX_NACL_RULES})")
    return n


class App:
    def __init__(self, moto, nacl_rules, faults):
        self.moto = moto
        self.strict = Strict(nacl_rules)
        self.faults = faults
        self.hold = Hold()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moto-server", required=True, help="path of moto_server")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (the parent is gone)")
    a = ap.parse_args()

    faults = Faults()
    try:
        nacl_rules = nacl_quota(os.environ.get("JIT_LOCAL_AWS_NACL_RULES_PER_DIRECTION", DEFAULT_NACL_RULES))
        if os.environ.get("JIT_LOCAL_AWS_FAULTS"):
            faults.configure(json.loads(os.environ["JIT_LOCAL_AWS_FAULTS"]))
    except ValueError as e:
        raise SystemExit(f"local-aws: {e}")

    moto = Moto(a.moto_server)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.app = App(moto, nacl_rules, faults)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.exit_on_stdin_eof:

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    log(f"serving on http://127.0.0.1:{server.server_address[1]}, moto on port {moto.port}")
    while not stop.wait(0.5):
        if moto.proc.poll() is not None:
            log("moto exited; stopping")
            break
    server.shutdown()
    server.server_close()
    moto.stop()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
