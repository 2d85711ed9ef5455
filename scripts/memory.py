"""Peak memory against the number of pairs: the noise-free KS case 1 (N = 1024) with 100,
1,000 and 10,000 pairs, its pairs streamed (`observations.streaming = "auto"`, which streams
past 64 MB of pairs) and held (`"never"`), each measured by `/usr/bin/time -v` (maximum
resident set size) on the release binary.

Agreement (the run stops when a check fails): at each size the streamed and the held runs
give the same report, every number within 1e-12 (timings aside).

    cargo build --release && python3 scripts/memory.py [--pairs 100,1000,10000]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from sides import agree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "medida")


def case_text(pairs, streaming):
    base = open(os.path.join(ROOT, "data", "ks", "ks-case01.toml")).read()
    base = re.sub(r"^name = .*$", f'name = "ks-case01-{pairs}-pairs"', base, flags=re.M)
    base = re.sub(r"^pairs = .*$", f'pairs = {pairs}\nstreaming = "{streaming}"', base, flags=re.M)
    return base


def measure(pairs, streaming, folder):
    path = os.path.join(folder, f"case-{pairs}-{streaming}.toml")
    report = os.path.join(folder, f"report-{pairs}-{streaming}.json")
    with open(path, "w") as f:
        f.write(case_text(pairs, streaming))
    run = subprocess.run(["/usr/bin/time", "-v", BINARY, "run", path, "--quiet", "--json", report],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"medida run failed:\n{run.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time .*: ([\d:.]+)", run.stderr).group(1)
    minutes, _, seconds = wall.rpartition(":")
    wall = float(seconds) + 60 * float(minutes or 0)
    return rss * 1024, wall, json.load(open(report))


def largest_difference(a, b, path="report"):
    if isinstance(a, dict):
        if sorted(a) != sorted(b):
            return float("inf")
        return max([largest_difference(a[k], b[k], f"{path}.{k}") for k in a
                    if "seconds" not in k and k not in ("timings", "streamed")] or [0.0])
    if isinstance(a, list):
        if len(a) != len(b):
            return float("inf")
        return max([largest_difference(x, y) for x, y in zip(a, b)] or [0.0])
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return abs(a - b) / max(1.0, abs(a), abs(b))
    return 0.0 if a == b else float("inf")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", default="100,1000,10000")
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY}: build it first (cargo build --release)")
    folder = tempfile.mkdtemp()
    rows = []
    for pairs in map(int, args.pairs.split(",")):
        auto = measure(pairs, "auto", folder)
        held = measure(pairs, "never", folder)
        always = measure(pairs, "always", folder)
        for name, run in (("auto", auto), ("always", always)):
            agree(f"{pairs} pairs, report {name} vs held", largest_difference(run[2], held[2]), 1e-12)
        rows.append((pairs, auto, always, held))
    print("\n| pairs | `auto` | streamed (`always`) | held (`never`) |")
    print("|---|---|---|---|")
    for pairs, auto, always, held in rows:
        mode = "streamed" if auto[2]["observations"].get("streamed") else "held"
        cell = lambda r: f"{r[0] / 1e6:.0f} MB, {r[1]:.1f} s"
        print(f"| {pairs:,} | {cell(auto)} ({mode}) | {cell(always)} | {cell(held)} |")


if __name__ == "__main__":
    main()
