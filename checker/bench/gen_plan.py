#!/usr/bin/env python3
"""Writes a synthetic `terraform show -json plan.out` document (format 1.2) for the jitlint benchmark.

The plan holds "stacks" of ten resources each, shaped like the seed articles' setups: a Lambda behind an API
Gateway REST API, the Lambda's role with an inline policy, a managed policy, the invoke permission, and either an
API resource policy with a source-IP allowlist or a Client VPN endpoint whose connect handler is that Lambda.
Half of the stacks are root-module resources, the other half are instances of a child module called with
`for_each`, and the two methods of each API use `count`, so a checker has to follow modules and instance keys.
As in a real plan, attributes that depend on other resources (ARNs, ids) are unknown: absent from `after` and
`planned_values`, `true` in `after_unknown`, and a reference in `configuration`.

Variation is derived from the stack number, not from a random generator, so the same size always yields the
same file. Roughly a third of each kind is unsafe in the ways jitlint's rules describe, so checkers have work.

Usage: gen_plan.py --resources 5000 --out plan.json
"""

import argparse
import json
import sys

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PROVIDER = "registry.terraform.io/hashicorp/aws"
RESOURCES_PER_STACK = 10


def policy(*statements):
    # Plans carry policies as the compact string jsonencode() produces.
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def role_policy_doc(i):
    variant = i % 4
    if variant == 0:  # the IoT-button seed: any NACL in the account
        return policy(
            {"Sid": "ReplaceRule", "Effect": "Allow", "Action": "ec2:ReplaceNetworkAclEntry", "Resource": "*"}
        )
    if variant == 1:  # scoped to one ACL: fine
        arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/acl-{i:017x}"
        return policy({"Effect": "Allow", "Action": ["ec2:ReplaceNetworkAclEntry"], "Resource": arn})
    if variant == 2:  # wildcard action, scoped by VPC condition: fine
        return policy(
            {
                "Effect": "Allow",
                "Action": "ec2:*NetworkAclEntry",
                "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/*",
                "Condition": {"StringEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-{i:08x}"}},
            }
        )
    return policy(
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn-{i}:*",
        }
    )


def managed_policy_doc(i):
    if i % 3 == 0:  # the source-IP seed's Lambda, but on every policy: privilege escalation
        return policy(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GetPolicyVersion",
                    "iam:ListPolicyVersions",
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicyVersion",
                ],
                "Resource": f"arn:aws:iam::{ACCOUNT}:policy/*",
            }
        )
    return policy(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::bucket-{i}", f"arn:aws:s3:::bucket-{i}/*"],
        }
    )


def api_policy_doc(i):
    cidr = ["203.0.113.0/24", "0.0.0.0/0", "123.456.789.0/24"][i % 3]
    return policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
            "Condition": {"IpAddress": {"aws:SourceIp": [cidr]}},
        }
    )


def ref(*targets):
    """A configuration expression that refers to other objects (terraform lists the attribute, then the object)."""
    out = []
    for t in targets:
        out.append(t)
        head = t.rsplit(".", 1)[0]
        if head.count(".") >= 1 and head not in out:
            out.append(head)
    return {"references": out}


def const(v):
    return {"constant_value": v}


def stack(i, in_module):
    """Returns a list of (type, name, index, after, unknown, expressions) for stack i."""
    vpn = i % 5 == 4
    prefix = "" if in_module else f"_{i:04d}"
    n = lambda base: base if in_module else f"{base}{prefix}"
    fn_name = (f"AWSClientVPN-handler-{i}" if i % 10 == 4 else f"vpn-handler-{i}") if vpn else f"jit-grant-{i}"
    role, pol, fn, perm = n("fn"), n("grant"), n("handler"), n("apigw")
    api, integ = n("api"), n("lambda")
    out = []

    out.append(
        (
            "aws_iam_role",
            role,
            None,
            {
                "name": f"jit-role-{i}",
                "path": "/",
                "description": "Lambda execution role",
                "assume_role_policy": policy(
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ),
                "force_detach_policies": False,
                "max_session_duration": 3600,
                "permissions_boundary": None,
                "tags": None,
            },
            [
                "arn",
                "id",
                "unique_id",
                "create_date",
                "inline_policy",
                "managed_policy_arns",
                "name_prefix",
                "tags_all",
            ],
            {"name": const(f"jit-role-{i}"), "assume_role_policy": {}},
        )
    )
    out.append(
        (
            "aws_iam_role_policy",
            role,
            None,
            {"name": f"nacl-{i}", "policy": role_policy_doc(i)},
            ["id", "role", "name_prefix"],
            {"name": const(f"nacl-{i}"), "policy": const(role_policy_doc(i)), "role": ref(f"aws_iam_role.{role}.id")},
        )
    )
    out.append(
        (
            "aws_iam_policy",
            pol,
            None,
            {"name": f"jit-grant-{i}", "path": "/", "description": "", "policy": managed_policy_doc(i), "tags": None},
            ["arn", "id", "policy_id", "attachment_count", "name_prefix", "tags_all"],
            {"name": const(f"jit-grant-{i}"), "policy": const(managed_policy_doc(i))},
        )
    )
    timeout = 60 if (vpn and i % 20 == 9) else 10
    out.append(
        (
            "aws_lambda_function",
            fn,
            None,
            {
                "function_name": fn_name,
                "handler": "main.lambda_handler",
                "runtime": "python3.12",
                "timeout": timeout,
                "memory_size": 128,
                "filename": "build/handler.zip",
                "publish": False,
                "architectures": ["arm64"],
                "environment": [{"variables": {"NACL_ID": f"acl-{i:017x}", "RULE_NUMBER": "200"}}],
                "tags": None,
            },
            [
                "arn",
                "id",
                "invoke_arn",
                "qualified_arn",
                "qualified_invoke_arn",
                "role",
                "version",
                "last_modified",
                "source_code_hash",
                "source_code_size",
                "signing_job_arn",
                "signing_profile_version_arn",
                "tags_all",
            ],
            {
                "function_name": const(fn_name),
                "handler": const("main.lambda_handler"),
                "runtime": const("python3.12"),
                "timeout": const(timeout),
                "filename": const("build/handler.zip"),
                "role": ref(f"aws_iam_role.{role}.arn"),
            },
        )
    )
    open_perm = i % 7 == 3
    principal = "*" if open_perm else "apigateway.amazonaws.com"
    perm_values = {
        "statement_id": "AllowAPIGatewayInvoke",
        "action": "lambda:InvokeFunction",
        "function_name": fn_name,
        "principal": principal,
        "qualifier": None,
        "source_account": None,
    }
    perm_exprs = {
        "statement_id": const("AllowAPIGatewayInvoke"),
        "action": const("lambda:InvokeFunction"),
        "function_name": ref(f"aws_lambda_function.{fn}.function_name"),
        "principal": const(principal),
    }
    perm_unknown = ["id", "statement_id_prefix"]
    if not open_perm:
        perm_unknown.append("source_arn")
        perm_exprs["source_arn"] = ref(f"aws_api_gateway_rest_api.{api}.execution_arn")
    else:
        perm_values["source_arn"] = None
    out.append(("aws_lambda_permission", perm, None, perm_values, perm_unknown, perm_exprs))
    out.append(
        (
            "aws_api_gateway_rest_api",
            api,
            None,
            {
                "name": f"jit-api-{i}",
                "description": "grant network access",
                "api_key_source": "HEADER",
                "endpoint_configuration": [{"types": ["REGIONAL"]}],
                "tags": None,
            },
            ["arn", "id", "root_resource_id", "execution_arn", "created_date", "policy", "tags_all"],
            {"name": const(f"jit-api-{i}")},
        )
    )
    # count = 2: [0] GET (open on every other stack, as in the source-IP seed), [1] OPTIONS (CORS, always open)
    for idx, method in enumerate(["GET", "OPTIONS"]):
        auth = "NONE" if (method == "OPTIONS" or i % 2 == 0) else "AWS_IAM"
        out.append(
            (
                "aws_api_gateway_method",
                n("grant_method"),
                idx,
                {
                    "http_method": method,
                    "authorization": auth,
                    "api_key_required": False,
                    "authorizer_id": None,
                    "request_parameters": {"method.request.querystring.SourceIp": method == "GET"},
                },
                ["id", "rest_api_id", "resource_id"],
                {
                    "http_method": {"references": ["local.methods", "count.index"]},
                    "authorization": {"references": ["count.index"]},
                    "rest_api_id": ref(f"aws_api_gateway_rest_api.{api}.id"),
                    "resource_id": ref(f"aws_api_gateway_rest_api.{api}.root_resource_id"),
                },
            )
        )
    out.append(
        (
            "aws_api_gateway_integration",
            integ,
            None,
            {
                "http_method": "GET",
                "type": "AWS_PROXY",
                "integration_http_method": "POST",
                "timeout_milliseconds": 29000,
            },
            ["id", "rest_api_id", "resource_id", "uri", "cache_namespace", "connection_type"],
            {
                "type": const("AWS_PROXY"),
                "integration_http_method": const("POST"),
                "http_method": ref(f"aws_api_gateway_method.{n('grant_method')}[0].http_method"),
                "rest_api_id": ref(f"aws_api_gateway_rest_api.{api}.id"),
                "uri": ref(f"aws_lambda_function.{fn}.invoke_arn"),
            },
        )
    )
    if vpn:
        out.append(
            (
                "aws_ec2_client_vpn_endpoint",
                n("vpn"),
                None,
                {
                    "description": f"vpn {i}",
                    "client_cidr_block": f"10.{i % 250}.0.0/22",
                    "server_certificate_arn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{i:08d}-0000-0000-0000-000000000000",
                    "split_tunnel": True,
                    "transport_protocol": "udp",
                    "authentication_options": [
                        {
                            "type": "certificate-authentication",
                            "active_directory_id": None,
                            "root_certificate_chain_arn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/root",
                        }
                    ],
                    "connection_log_options": [
                        {"enabled": False, "cloudwatch_log_group": None, "cloudwatch_log_stream": None}
                    ],
                    "client_connect_options": [{"enabled": True}],
                    "tags": None,
                },
                [
                    "arn",
                    "id",
                    "dns_name",
                    "dns_servers",
                    "security_group_ids",
                    "self_service_portal_url",
                    "vpc_id",
                    "client_connect_options[0].lambda_function_arn",
                    "tags_all",
                ],
                {
                    "client_cidr_block": const(f"10.{i % 250}.0.0/22"),
                    "client_connect_options": [
                        {"enabled": const(True), "lambda_function_arn": ref(f"aws_lambda_function.{fn}.arn")}
                    ],
                },
            )
        )
    else:
        out.append(
            (
                "aws_api_gateway_rest_api_policy",
                n("allowlist"),
                None,
                {"policy": api_policy_doc(i)},
                ["id", "rest_api_id"],
                {"policy": const(api_policy_doc(i)), "rest_api_id": ref(f"aws_api_gateway_rest_api.{api}.id")},
            )
        )
    assert len(out) == RESOURCES_PER_STACK
    return out


def unknown_tree(paths):
    """after_unknown: true for each unknown attribute; `a[0].b` paths become nested lists/objects."""
    tree = {}
    for p in paths:
        if "[0]." in p:
            block, attr = p.split("[0].")
            tree.setdefault(block, [{}])[0][attr] = True
        else:
            tree[p] = True
    return tree


def build(resources):
    stacks = -(-resources // RESOURCES_PER_STACK)
    root_planned, root_config, changes = [], [], []
    modules = {}  # module address -> planned resources
    module_config = {}  # resource address inside the module -> configuration (same for every instance)
    emitted = 0
    for i in range(stacks):
        in_module = i % 2 == 1
        mod_addr = f'module.app["svc-{i:04d}"]' if in_module else None
        for rtype, name, index, after, unknown, exprs in stack(i, in_module):
            if emitted == resources:
                break
            emitted += 1
            local = f"{rtype}.{name}" + (f"[{index}]" if index is not None else "")
            address = f"{mod_addr}.{local}" if mod_addr else local
            common = {"address": address, "mode": "managed", "type": rtype, "name": name}
            if index is not None:
                common["index"] = index
            common["provider_name"] = PROVIDER
            planned = dict(common, schema_version=0, values=after, sensitive_values={})
            change = dict(common)
            if mod_addr:
                change = {
                    "address": address,
                    "module_address": mod_addr,
                    **{k: v for k, v in common.items() if k != "address"},
                }
            change["change"] = {
                "actions": ["create"],
                "before": None,
                "after": after,
                "after_unknown": unknown_tree(unknown),
                "before_sensitive": False,
                "after_sensitive": {},
            }
            changes.append(change)
            cfg_addr = f"{rtype}.{name}"
            cfg = {
                "address": cfg_addr,
                "mode": "managed",
                "type": rtype,
                "name": name,
                "provider_config_key": "aws" if not mod_addr else "app:aws",
                "expressions": exprs,
                "schema_version": 0,
            }
            if index is not None:
                cfg["count_expression"] = const(2)
            if mod_addr:
                modules.setdefault(mod_addr, []).append(planned)
                module_config.setdefault(cfg_addr, cfg)
            elif index in (None, 0):
                root_config.append(cfg)
                root_planned.append(planned)
            else:
                root_planned.append(planned)

    root_module = {"resources": root_planned}
    if modules:
        root_module["child_modules"] = [{"address": a, "resources": r} for a, r in modules.items()]
    configuration = {
        "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER, "expressions": {"region": const(REGION)}}},
        "root_module": {"resources": root_config},
    }
    if modules:
        configuration["root_module"]["module_calls"] = {
            "app": {
                "source": "./modules/app",
                "for_each_expression": {"references": ["local.services"]},
                "module": {"resources": list(module_config.values())},
            }
        }
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": root_module},
        "resource_changes": changes,
        "configuration": configuration,
        "timestamp": "2025-01-01T00:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=5000, help="number of resources (default 5000)")
    ap.add_argument("--out", required=True, help="file to write")
    args = ap.parse_args()
    if args.resources < 1:
        sys.exit(f"error: --resources must be at least 1, got {args.resources}")
    plan = build(args.resources)
    with open(args.out, "w") as f:
        json.dump(plan, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
