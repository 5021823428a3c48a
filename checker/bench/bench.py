#!/usr/bin/env python3
"""Times jitlint against parliament and checkov and prints the figures. Started by bench.sh (see README.md).

Every command is first run once on its own to check that it did real work (exit status, finding and pass/fail
counts are printed), then timed several times; the report gives medians, the speed-up ratios and jitlint's peak
resident memory, each against its target. Exit status: 0 when every target is met, 1 when one is missed,
2 when a tool failed outright.
"""

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_plan  # a sibling module, importable once its directory is on sys.path

TARGET_PARLIAMENT = 50.0
TARGET_CHECKOV = 100.0
TARGET_RSS_MB = 64.0


class ToolFailed(Exception):
    pass


def fmt_cmd(argv):
    return " ".join(shlex.quote(str(a)) for a in argv)


def run_checked(argv, label, ok=(0, 1), env=None):
    """Runs argv once under /usr/bin/time -v when available; returns (stdout, peak RSS in KB or None)."""
    timed = os.access("/usr/bin/time", os.X_OK)
    full = (["/usr/bin/time", "-v"] if timed else []) + [str(a) for a in argv]
    p = subprocess.run(full, check=False, capture_output=True, text=True, env=env)
    if p.returncode not in ok:
        tail = "\n".join(p.stderr.strip().splitlines()[-15:])
        raise ToolFailed(f"{label} exited with status {p.returncode}: {fmt_cmd(argv)}\n{tail}")
    rss = None
    if timed:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        rss = int(m.group(1)) if m else None
    return p.stdout, p.stderr, rss


def time_runs(argv, runs, warmup, timer, work, tag, env=None):
    """Median wall-clock seconds of `runs` runs (output discarded), through hyperfine or a Python timer."""
    if timer == "hyperfine":
        export = work / f"hyperfine-{tag}.json"
        cmd = [
            "hyperfine",
            "--shell=none",
            "--style=none",
            "--ignore-failure",
            f"--warmup={warmup}",
            f"--runs={runs}",
            f"--export-json={export}",
            fmt_cmd(argv),
        ]
        # --ignore-failure because jitlint and checkov exit 1 when they find something; run_checked has already
        # verified that each command works, and hyperfine's warnings about it are noise.
        p = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        if p.returncode != 0:
            raise ToolFailed(f"hyperfine failed on {fmt_cmd(argv)}:\n{p.stderr.strip()}")
        times = json.loads(export.read_text())["results"][0]["times"]
    else:
        times = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            subprocess.run(
                [str(a) for a in argv], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def spread(times):
    return f"(min {secs(min(times))}, max {secs(max(times))}, {len(times)} runs)"


def secs(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def jitlint_counts(stdout, label):
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError as e:
        raise ToolFailed(f"{label}: jitlint --format json did not print JSON ({e})") from e
    findings = doc.get("findings", [])
    errors = doc.get("errors", [])
    by_rule = Counter(f.get("rule", "?") for f in findings)
    return findings, errors, by_rule, doc.get("summary")


def describe_jitlint(findings, errors, by_rule, summary):
    rules = ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items())) or "none"
    line = f"{len(findings)} findings ({rules}); {len(errors)} input errors"
    if summary:
        line += f"; summary {json.dumps(summary, separators=(',', ':'))}"
    if errors:
        line += "; first: " + "; ".join(f"{e.get('path')}: {e.get('message')}" for e in errors[:3])
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jitlint", required=True, type=Path)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path, help="scratch directory (the caller removes it)")
    ap.add_argument("--venv", type=Path, help="venv with parliament and checkov (not used with --smoke)")
    ap.add_argument("--resources", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=10, help="timed runs of jitlint")
    ap.add_argument("--peer-runs", type=int, default=3, help="timed runs of parliament and checkov")
    ap.add_argument("--parliament-jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timer", choices=["hyperfine", "python"], default="hyperfine")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    corpus_files = sorted(p for p in args.corpus.rglob("*.json"))
    if not corpus_files:
        sys.exit(f"error: no *.json files under --corpus {args.corpus}")
    plan = args.work / "plan.json"
    plan.write_text(json.dumps(gen_plan.build(args.resources), indent=2) + "\n")

    jl = args.jitlint
    version = subprocess.run([jl, "--version"], check=False, capture_output=True, text=True).stdout.strip() or str(jl)
    timer_desc = (
        "hyperfine "
        + subprocess.run(["hyperfine", "--version"], check=False, capture_output=True, text=True).stdout.split()[-1]
        if args.timer == "hyperfine"
        else "Python timer (hyperfine not installed)"
    )
    print(
        f"jitlint benchmark{' (smoke)' if args.smoke else ''}: {version}; {os.cpu_count()} CPUs, "
        f"{platform.machine()}; timing by {timer_desc}; median of {args.runs} runs for jitlint"
        + ("" if args.smoke else f", {args.peer_runs} for the peers")
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None:
        print(f"load average before the runs: {load:.2f} (other work on the machine inflates every figure)")
    print()

    results = []  # (label, ok)
    jl_rss = []

    # --- run 1: policy corpus
    print(f"run 1: {len(corpus_files)} policy files in {args.corpus}")
    jl_corpus = [jl, "check", args.corpus, "--format", "json"]
    out, _, rss = run_checked(jl_corpus, "jitlint (corpus)")
    findings, errors, by_rule, summary = jitlint_counts(out, "jitlint (corpus)")
    jl_rss.append(("corpus", rss))
    print(f"  jitlint    {fmt_cmd(jl_corpus)}")
    print(f"             {describe_jitlint(findings, errors, by_rule, summary)}")
    t_jl1, times = time_runs(jl_corpus, args.runs, 2, args.timer, args.work, "jitlint-corpus")
    print(f"             median {secs(t_jl1)} {spread(times)}")
    if errors:
        results.append(("jitlint reads every corpus file", False))

    if not args.smoke:
        py = args.venv / "bin" / "python"
        driver = Path(__file__).resolve().parent / "parliament_corpus.py"
        parl = [py, driver, "--jobs", str(args.parliament_jobs), args.corpus]
        out, _, prss = run_checked(parl + ["--summary"], "parliament", ok=(0,))
        psum = json.loads(out.strip().splitlines()[-1])["summary"]
        print(f"  parliament {fmt_cmd(parl)}")
        print(
            f"             one Python process with {args.parliament_jobs} forked workers calling "
            "parliament.analyze_policy_string on every file"
        )
        print(
            "             (its CLI --directory mode aborts on the first file it raises on; one CLI call per "
            "file reloads parliament 1,523 times)"
        )
        crashes = "; ".join(f"{n}x {c}" for c, n in psum["crashes"].items()) or "none"
        print(
            f"             {psum['files']} files, {psum['findings']} findings, "
            f"{psum['crashed']} files raised in parliament ({crashes}); peak RSS {mb(prss) if prss else 'n/a'}"
            " (largest process)"
        )
        t_p, times = time_runs(parl, args.peer_runs, 0, args.timer, args.work, "parliament")
        ratio = t_p / t_jl1
        print(f"             median {secs(t_p)} {spread(times)}")
        ok = ratio >= TARGET_PARLIAMENT
        print(f"  ratio      parliament / jitlint = {ratio:.1f}x   target >= {TARGET_PARLIAMENT:.0f}x   {verdict(ok)}")
        results.append(("vs parliament", ok))
    print()

    # --- run 2: Terraform plan
    size = plan.stat().st_size
    print(f"run 2: generated Terraform plan, {args.resources} resources, {size / 1e6:.1f} MB (gen_plan.py)")
    jl_plan = [jl, "check", plan, "--format", "json"]
    out, _, rss = run_checked(jl_plan, "jitlint (plan)")
    findings, errors, by_rule, summary = jitlint_counts(out, "jitlint (plan)")
    jl_rss.append(("plan", rss))
    print(f"  jitlint    {fmt_cmd(jl_plan)}")
    print(f"             {describe_jitlint(findings, errors, by_rule, summary)}")
    if errors or not findings:
        # The plan is unsafe by construction; no finding means jitlint did not look at it.
        results.append(("jitlint reads the plan and finds its unsafe resources", False))
    t_jl2, times = time_runs(jl_plan, args.runs, 2, args.timer, args.work, "jitlint-plan")
    print(f"             median {secs(t_jl2)} {spread(times)}")

    if not args.smoke:
        ck = [
            args.venv / "bin" / "checkov",
            "-f",
            plan,
            "--framework",
            "terraform_plan",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ]
        # Without these checkov asks PyPI for a newer version (and caches the answer under ~/.cache/checkov) and
        # fetches Bridgecrew's check mapping on every run: network time that is not linting.
        env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="true")
        out, err, crss = run_checked(ck, "checkov", env=env)
        doc = json.loads(out)
        doc = doc[0] if isinstance(doc, list) else doc
        s = doc["summary"]
        check_errors = err.count("Failed to run check")
        top = Counter(c["check_id"] for c in doc["results"]["failed_checks"]).most_common(4)
        print(f"  checkov    {fmt_cmd(ck)}")
        print(
            f"             {s['resource_count']} resources scanned, {s['passed']} checks passed, {s['failed']} "
            f"failed, {s['parsing_errors']} parsing errors, {check_errors} checks crashed; peak RSS "
            f"{mb(crss) if crss else 'n/a'}"
        )
        print("             most failed: " + ", ".join(f"{c} {n}" for c, n in top))
        if s["resource_count"] < args.resources:
            raise ToolFailed(f"checkov scanned {s['resource_count']} of {args.resources} resources")
        t_c, times = time_runs(ck, args.peer_runs, 0, args.timer, args.work, "checkov", env=env)
        ratio = t_c / t_jl2
        print(f"             median {secs(t_c)} {spread(times)}")
        ok = ratio >= TARGET_CHECKOV
        print(f"  ratio      checkov / jitlint = {ratio:.1f}x   target >= {TARGET_CHECKOV:.0f}x   {verdict(ok)}")
        results.append(("vs checkov", ok))
    print()

    # --- memory
    measured = [(k, v) for k, v in jl_rss if v is not None]
    if measured:
        peak = max(v for _, v in measured)
        parts = ", ".join(f"{k} {mb(v)}" for k, v in measured)
        ok = peak / 1024 < TARGET_RSS_MB
        print(f"peak RSS   jitlint: {parts}   target < {TARGET_RSS_MB:.0f} MB   {verdict(ok)}")
        results.append(("peak RSS", ok))
    else:
        print("peak RSS   not measured: /usr/bin/time (Debian package `time`) is not installed   FAIL")
        results.append(("peak RSS", False))

    failed = [label for label, ok in results if not ok]
    print()
    print("result: " + ("all targets met" if not failed else "missed: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ToolFailed as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
