"""The cost of calling medida from Python against the command line, on one case.

Alternates the two sides `--repeats` times and reports min and median wall seconds:
  cli      `medida run CASE --quiet` as a process (what a shell user waits for);
  call     `medida.run(CASE, quiet=True)` timed inside a fresh interpreter: the Python call
           itself (the like-for-like comparison with the CLI process);
  process  the whole `python -c "import medida; medida.run(...)"`, with the interpreter's
           start and the imports (numpy's among them);
  python   `medida.run(CASE, quiet=True)` again inside this interpreter: what a notebook's
           second call waits for (the truth run is cached in the process, as `medida run A B`
           shares it between cases).
Both sides must report the same discovered terms and coefficients (to 1e-12), or it fails.

    python scripts/python_overhead.py [--case ks-case01] [--repeats 5] [--bin target/release/medida]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import medida

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--case", default="ks-case01")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--bin", default=str(ROOT / "target" / "release" / "medida"))
    a = p.parse_args()
    times = {"cli": [], "call": [], "process": [], "python": []}
    report = Path(tempfile.mkdtemp()) / "r.json"
    code = (
        "import time, medida; t = time.perf_counter(); "
        f"medida.run({a.case!r}, quiet=True); print(time.perf_counter() - t)"
    )
    def cli_side():
        t = time.perf_counter()
        subprocess.run([a.bin, "run", a.case, "--quiet", "--json", str(report)], check=True, capture_output=True)
        times["cli"].append(time.perf_counter() - t)

    def python_side():
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times["process"].append(time.perf_counter() - t)
        times["call"].append(float(out.stdout.strip().splitlines()[-1]))

    # Fresh processes on both sides, taking turns to go first; this interpreter runs nothing
    # of medida's until they are done.
    for k in range(a.repeats):
        for side in (cli_side, python_side) if k % 2 == 0 else (python_side, cli_side):
            side()
    medida.run(a.case, quiet=True)
    for _ in range(a.repeats):
        t = time.perf_counter()
        d = medida.run(a.case, quiet=True)
        times["python"].append(time.perf_counter() - t)
    ours = d.to_dict()["discovered"]
    theirs = json.loads(report.read_text())["discovered"]
    same = len(ours) == len(theirs) and all(
        o["term"] == t["term"] and abs(o["coefficient"] - t["coefficient"]) <= 1e-12 * abs(t["coefficient"])
        for o, t in zip(ours, theirs)
    )
    print(f"agreement: {'same terms and coefficients (1e-12)' if same else 'DIFFER'}")
    base = statistics.median(times["cli"])
    print(f"{'side':<8} {'min s':>8} {'median s':>9} {'vs cli':>8}")
    for side, values in times.items():
        median = statistics.median(values)
        print(f"{side:<8} {min(values):8.3f} {median:9.3f} {100 * (median / base - 1):+7.1f} %")
    if not same:
        sys.exit("the Python and command-line answers differ")


if __name__ == "__main__":
    main()
