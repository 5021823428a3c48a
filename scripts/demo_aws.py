"""The AWS side of scripts/demo.sh, run with the moto venv's Python (boto3 comes with moto).

    demo_aws.py setup ENDPOINT        wait for moto, create a VPC and a network ACL, print the ACL id
    demo_aws.py show ENDPOINT ACL_ID  print the ACL's entries and jit tags as AWS reports them
"""

import sys
import time
import urllib.request

import boto3


def client(endpoint):
    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def wait_ready(endpoint, timeout=30.0):
    # No proxy: moto is on 127.0.0.1, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(endpoint + "/moto-api/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"moto at {endpoint} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def setup(endpoint):
    wait_ready(endpoint)
    ec2 = client(endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "vpn-endpoint-subnet"}])
    print(acl)


def show(endpoint, acl_id):
    acl = client(endpoint).describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]
    print(f"Network ACL {acl_id} (as AWS reports it)")
    print(f"  {'rule':>5}  {'dir':7}  {'action':6}  {'proto':5}  {'ports':11}  cidr")
    protocols = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}
    for entry in sorted(acl["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"])):
        ports = entry.get("PortRange")
        port_text = f"{ports['From']}-{ports['To']}" if ports else "-"
        print(
            f"  {entry['RuleNumber']:>5}  {'egress' if entry['Egress'] else 'ingress':7}  "
            f"{entry['RuleAction']:6}  {protocols.get(entry['Protocol'], entry['Protocol']):5}  "
            f"{port_text:11}  "
            f"{entry.get('CidrBlock') or entry.get('Ipv6CidrBlock')}"
        )
    print("  tags:")
    for tag in sorted(acl.get("Tags", []), key=lambda t: t["Key"]):
        print(f"    {tag['Key']} = {tag['Value']}")


def main(argv):
    if len(argv) == 3 and argv[1] == "setup":
        setup(argv[2])
    elif len(argv) == 4 and argv[1] == "show":
        show(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
