"""Criterion medians of the kernels (one table): the KS steps and their FFT floors, the QG
step, the normal-equations accumulation, the ensemble analyses and forecast. Short warm-up
and measurement times; the side-by-side scripts give the anchors.

    python3 scripts/criterion_table.py
"""
import re
import subprocess
import sys

BENCHES = [
    ("ks_solver", "ks_step/(etdrk4|cnab2|eight_real_ffts)/(128|1024|4096)$"),
    ("ks_solver", "ks_truth_run"),
    ("qg_solver", "qg_step"),
    ("regression", "accumulate|stream"),
    ("assimilation", "analysis_n1024_full|ensemble_forecast"),
]
UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def main():
    print("| bench | kernel | median |")
    print("|---|---|---|")
    for bench, pattern in BENCHES:
        run = subprocess.run(
            ["cargo", "bench", "--bench", bench, "--", pattern, "--warm-up-time", "1",
             "--measurement-time", "3"],
            capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"cargo bench --bench {bench} failed:\n{run.stderr[-2000:]}")
        name = None
        for line in run.stdout.splitlines():
            if line and not line[0].isspace() and not line.startswith(("Benchmarking", "Found", "Gnuplot")):
                name = line.split()[0]
            match = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
            if match and name:
                print(f"| {bench} | {name} | {match.group(1)} {match.group(2)} |")
                name = None

if __name__ == "__main__":
    main()
