#!/usr/bin/env python3
"""The packaging steps of scripts/release.sh, on binaries that are already built (standard library only).

    release_pack.py pack      --version V --platform OS_ARCH --bin-dir DIR --out DIR [--provider-only] [--lambda NAME]...
    release_pack.py checksums --version V --dir DIR [--sign KEY]
    release_pack.py mirror    --version V --dir DIR --mirror DIR

`pack` writes one platform's archives: the provider in the layout the Terraform and OpenTofu registries use
(`terraform-provider-jit_V_OS_ARCH.zip` holding the single executable `terraform-provider-jit_vV`), `jitctl`
(`jitctl_V_OS_ARCH.zip`) and, on Linux, each Lambda function as `bootstrap` (`NAME_V_x86_64.zip`,
`NAME_V_arm64.zip`, Lambda's names for the architectures). `checksums` writes the provider manifest, the
provider's `terraform-provider-jit_V_SHA256SUMS` (over the provider zips and the manifest: what Terraform reads)
and `jit_V_SHA256SUMS` (over every other archive), over whatever platforms DIR holds, and with `--sign` a
detached binary signature of each (`.sig`, made by gpg with that key). `mirror` lays out a provider mirror from
DIR after checking every provider zip it holds against the SHA256SUMS (a download of some platforms is fine): the packed filesystem-mirror layout
(`registry.terraform.io/jit-access/jit/terraform-provider-jit_V_OS_ARCH.zip`) plus the `index.json` and `V.json`
of the provider network mirror protocol, so the same directory serves `filesystem_mirror` and, behind any HTTPS
file server, `network_mirror`.

Archives are reproducible: entries in a fixed order, every timestamp SOURCE_DATE_EPOCH (UTC; it must be set),
fixed permissions (0755, Unix), deflate at zlib's default level. Two runs on the same binaries give byte-identical zips.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

PROVIDER = "terraform-provider-jit"
PROVIDER_ADDRESS = ("registry.terraform.io", "jit-access", "jit")
# Terraform's plugin protocol major.minor; the registry reads it from the manifest.
PROTOCOL_VERSIONS = ["6.0"]
PLATFORMS = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"]
# Lambda's names for the CPU architectures of provided.al2023.
LAMBDA_ARCHITECTURES = {"linux_amd64": "x86_64", "linux_arm64": "arm64"}
VERSION_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$")


class Refused(Exception):
    """A refusal with a message that says what is wrong and what to do."""


def zip_timestamp():
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw.isdigit():
        raise Refused(
            f"SOURCE_DATE_EPOCH={raw!r} must be set to a Unix time in seconds (scripts/release.sh sets it to "
            "the commit time of HEAD): every timestamp in the archives is taken from it"
        )
    # The ZIP format (MS-DOS times) starts in 1980 and has two-second steps.
    t = time.gmtime(max(int(raw), 315532800))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def write_zip(path, entries):
    """Writes `path` holding `entries` ([(name in the zip, source file)]), deterministically, atomically."""
    stamp = zip_timestamp()
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, source in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED  # at zlib's default level
            info.create_system = 3  # Unix, so unzip and Terraform restore the mode below
            info.external_attr = 0o100755 << 16  # a regular file, rwxr-xr-x
            with open(source, "rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, path)


def binary(bin_dir, name, platform):
    path = os.path.join(bin_dir, name + (".exe" if platform.startswith("windows_") else ""))
    if not os.path.isfile(path):
        raise Refused(
            f"{path} does not exist: build it first (`cargo build --release --locked -p terraform-provider-jit "
            f"--bins` puts every binary of a release in $CARGO_TARGET_DIR/release), or give the directory that "
            "holds it with --bin-dir"
        )
    return path


def pack(args):
    version, platform = args.version, args.platform
    exe = ".exe" if platform.startswith("windows_") else ""
    os.makedirs(args.out, exist_ok=True)
    written = []

    def archive(zip_name, entries):
        write_zip(os.path.join(args.out, zip_name), entries)
        written.append(zip_name)

    archive(
        f"{PROVIDER}_{version}_{platform}.zip",
        [(f"{PROVIDER}_v{version}{exe}", binary(args.bin_dir, PROVIDER, platform))],
    )
    if not args.provider_only:
        archive(f"jitctl_{version}_{platform}.zip", [(f"jitctl{exe}", binary(args.bin_dir, "jitctl", platform))])
        architecture = LAMBDA_ARCHITECTURES.get(platform)
        for name in args.lambdas if architecture else []:
            archive(f"{name}_{version}_{architecture}.zip", [("bootstrap", binary(args.bin_dir, name, platform))])
    for name in written:
        print(os.path.join(args.out, name))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sums_text(directory, names):
    return "".join(f"{sha256_file(os.path.join(directory, n))}  {n}\n" for n in sorted(names))


def provider_sums_name(version):
    return f"{PROVIDER}_{version}_SHA256SUMS"


def checksums(args):
    version, directory = args.version, args.dir
    provider_prefix = f"{PROVIDER}_{version}_"
    zips = sorted(n for n in os.listdir(directory) if n.endswith(".zip") and f"_{version}_" in n)
    provider_zips = [n for n in zips if n.startswith(provider_prefix)]
    if not provider_zips:
        raise Refused(f"{directory} holds no {provider_prefix}OS_ARCH.zip: pack a platform into it first")
    manifest = f"{provider_prefix}manifest.json"
    with open(os.path.join(directory, manifest), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps({"version": 1, "metadata": {"protocol_versions": PROTOCOL_VERSIONS}}) + "\n")
    files = {
        provider_sums_name(version): provider_zips + [manifest],
        f"jit_{version}_SHA256SUMS": [n for n in zips if not n.startswith(provider_prefix)],
    }
    for sums, names in files.items():
        path = os.path.join(directory, sums)
        if not names:
            for stale in (path, path + ".sig"):
                if os.path.exists(stale):
                    os.remove(stale)
            continue
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(sums_text(directory, names))
        if args.sign:
            sign(path, args.sign)
        elif os.path.exists(path + ".sig"):
            os.remove(path + ".sig")  # a signature over an older checksum file would not verify
        print(path)


def sign(path, key):
    sig = path + ".sig"
    command = ["gpg", "--batch", "--yes", "--local-user", key]
    passphrase = os.environ.get("JIT_GPG_PASSPHRASE")
    if passphrase is not None:
        command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    command += ["--detach-sign", "--output", sig, path]
    try:
        done = subprocess.run(command, input=passphrase or "", capture_output=True, text=True)
    except FileNotFoundError:
        raise Refused("gpg is not on PATH: signing (JIT_GPG_KEY is set) needs GnuPG") from None
    if done.returncode != 0:
        hint = "" if passphrase is not None else " (a key with a passphrase needs JIT_GPG_PASSPHRASE)"
        raise Refused(f"gpg could not sign {path} with key {key!r}{hint}:\n{done.stderr.strip()}")
    print(sig)


def h1_hash(zip_path):
    """Terraform's `h1:` hash of a provider package: over the files inside the zip, as dirhash's Hash1."""
    lines = []
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(archive.namelist()):
            with archive.open(name) as f:
                digest = hashlib.sha256()
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            lines.append(f"{digest.hexdigest()}  {name}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def read_sums(path):
    sums = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            digest, name = line.rstrip("\n").split("  ", 1)
            sums[name] = digest
    return sums


def mirror(args):
    version, directory = args.version, args.dir
    sums_path = os.path.join(directory, provider_sums_name(version))
    if not os.path.isfile(sums_path):
        raise Refused(f"{sums_path} does not exist: run the checksums step first")
    sums = read_sums(sums_path)
    target = os.path.join(args.mirror, *PROVIDER_ADDRESS)
    os.makedirs(target, exist_ok=True)
    archives = {}
    for name, digest in sorted(sums.items()):
        match = re.fullmatch(re.escape(f"{PROVIDER}_{version}_") + r"([a-z0-9]+_[a-z0-9]+)\.zip", name)
        if not match:
            continue
        source = os.path.join(directory, name)
        if not os.path.isfile(source):
            continue  # a platform that was not downloaded
        if sha256_file(source) != digest:
            raise Refused(f"{source} does not match its line in {sums_path}: it changed after packing; pack again")
        shutil.copyfile(source, os.path.join(target, name))
        archives[match.group(1)] = {"url": name, "hashes": [h1_hash(source), "zh:" + digest]}
    if not archives:
        raise Refused(f"{directory} holds none of the provider zips {sums_path} names")
    index_path = os.path.join(target, "index.json")
    versions = {}
    if os.path.isfile(index_path):
        with open(index_path, encoding="utf-8") as f:
            versions = json.load(f).get("versions", {})
    versions[version] = {}
    for path, document in (
        (os.path.join(target, f"{version}.json"), {"archives": archives}),
        (index_path, {"versions": dict(sorted(versions.items()))}),
    ):
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(target)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="one platform's archives from built binaries")
    p.add_argument("--platform", required=True, choices=PLATFORMS)
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--provider-only", action="store_true")
    p.add_argument("--lambda", dest="lambdas", action="append", default=[], metavar="NAME")
    p.set_defaults(run=pack)
    c = commands.add_parser("checksums", help="manifest, SHA256SUMS files and signatures over a directory")
    c.add_argument("--dir", required=True)
    c.add_argument("--sign", metavar="KEY")
    c.set_defaults(run=checksums)
    m = commands.add_parser("mirror", help="a provider mirror (filesystem and network layouts) from a directory")
    m.add_argument("--dir", required=True)
    m.add_argument("--mirror", required=True)
    m.set_defaults(run=mirror)
    for sub in (p, c, m):
        sub.add_argument("--version", required=True)
    args = parser.parse_args()
    try:
        if not VERSION_RE.match(args.version):
            raise Refused(f"version {args.version!r} is not a semantic version like 0.2.0 or 1.0.0-rc.1")
        args.run(args)
    except Refused as refusal:
        print(f"release: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
