#!/usr/bin/env python3
"""Runs parliament over every `*.json` file of a directory, the fastest fair way we found, for the benchmark.

Why not parliament's own CLI: `parliament --directory DIR` stops at the first file parliament raises on (two
AWS managed policies make 1.6.4 raise "Unknown data format: ArrayOfARN"), so it cannot lint the corpus at all,
and one `parliament --file` per policy pays the interpreter start and the 10 MB IAM-definition load 1,523
times. This driver does what the CLI's directory mode does per file (`analyze_policy_string`, then
`enhance_finding`, then prints each finding as `--json` does) in one interpreter, catches an exception per
file instead of aborting, and spreads the files over worker processes forked after the import, so parliament
uses every core just as jitlint does. It also avoids the CLI's habit of writing /tmp/parliament.log.

Must run with the benchmark venv's Python. Prints one JSON line per finding on stdout and, with --summary, a
last line `{"summary": {...}}` with the file, finding and crash counts.
"""

import argparse
import json
import os
import sys
from multiprocessing import Pool

import parliament
from parliament import analyze_policy_string, enhance_finding


def lint(path):
    """Returns (findings as JSON lines, crash reason or None) for one file."""
    with open(path, encoding="utf-8") as f:
        contents = f.read()
    try:
        policy = analyze_policy_string(contents, path, config=parliament.config)
    except Exception as e:  # noqa: BLE001 - parliament raises bare Exception on input it does not understand
        return [], f"{type(e).__name__}: {e}"
    lines = []
    for finding in policy.findings:
        finding = enhance_finding(finding)
        lines.append(
            json.dumps(
                {
                    "issue": finding.issue,
                    "title": finding.title,
                    "severity": finding.severity,
                    "description": finding.description,
                    "detail": finding.detail,
                    "location": finding.location,
                },
                default=str,
            )
        )
    return lines, None


def main():
    ap = argparse.ArgumentParser(description="Lint every *.json file of DIR with parliament in one process pool.")
    ap.add_argument("directory")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPU count)")
    ap.add_argument("--summary", action="store_true", help="finish with a summary line")
    args = ap.parse_args()
    if args.jobs < 1:
        sys.exit(f"error: --jobs must be at least 1, got {args.jobs}")

    paths = []
    for root, _, names in os.walk(args.directory):
        paths.extend(os.path.join(root, n) for n in names if n.endswith(".json"))
    paths.sort()

    if args.jobs == 1:
        results = map(lint, paths)
    else:
        pool = Pool(args.jobs)
        results = pool.imap(lint, paths, chunksize=16)

    findings, crashes = 0, {}
    out = sys.stdout
    for lines, crash in results:
        for line in lines:
            out.write(line)
            out.write("\n")
        findings += len(lines)
        if crash is not None:
            crashes[crash] = crashes.get(crash, 0) + 1
    if args.jobs != 1:
        pool.close()
        pool.join()

    if args.summary:
        summary = {"files": len(paths), "findings": findings, "crashed": sum(crashes.values()), "crashes": crashes}
        out.write(json.dumps({"summary": summary}) + "\n")


if __name__ == "__main__":
    main()
