"""Regenerates the measured tables of BENCHMARKS.md, each from one side-by-side script run
now, with the script's agreement checks printed beside its table. BENCHMARKS.md marks each
generated block with `<!-- generated: NAME -->` … `<!-- end: NAME -->`; everything between
is replaced (the machine, the date and commit, the command, the checks, the table). A script
whose checks fail stops the regeneration and leaves the file as it was.

    cargo build --release
    /tmp/bench-venv/bin/python scripts/benchmarks.py            # every block
    /tmp/bench-venv/bin/python scripts/benchmarks.py enkf pyqg  # some of them

The Python side needs numpy, pyfftw, pyqg 0.7.2 built against pyfftw and DAPPER 1.7.1 (the
recipes are in each script's docstring).
"""
import datetime
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable

# name → (command, environment additions)
BLOCKS = {
    "criterion": ([PYTHON, "scripts/criterion_table.py"], {}),
    "enkf": ([PYTHON, "scripts/compare_enkf.py"], {}),
    "pyqg": ([PYTHON, "scripts/compare_pyqg.py"], {"OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}),
    "ks-speed": ([PYTHON, "scripts/compare_ks_speed.py"], {}),
    "memory": ([PYTHON, "scripts/memory.py"], {}),
    "regression": ([PYTHON, "scripts/compare_regression.py"], {}),
    "dapper": ([os.environ.get("MEDIDA_DAPPER_PYTHON", "/tmp/dapper-venv/bin/python"), "scripts/compare_dapper.py"], {}),
    # The two square-root rows whose divergence counts differed at five seeds, at twenty.
    "dapper-seeds": ([os.environ.get("MEDIDA_DAPPER_PYTHON", "/tmp/dapper-venv/bin/python"),
                      "scripts/compare_dapper.py", "--rows", "2,5", "--seeds", "1-20"], {}),
}


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    # This file's own regenerated blocks do not count as a change to what was measured.
    dirty = [l for l in subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                       cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
             if not l.endswith("BENCHMARKS.md")]
    today = datetime.date.today().isoformat()
    return (f"{cpu}, {os.cpu_count()} cores; {today}, commit {commit}"
            f"{' (with uncommitted changes)' if dirty else ''}")


def regenerate(name, text):
    command, extra = BLOCKS[name]
    env = dict(os.environ, **extra)
    print(f"== {name}: {' '.join(command)}", flush=True)
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.exit(f"{name}: the script failed (BENCHMARKS.md unchanged):\n{run.stderr[-3000:]}")
    checks = [l for l in run.stdout.splitlines() if l.startswith("agreement ")]
    # The script's markdown tables, a blank line between two of them.
    table = []
    for line in run.stdout.splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table and table[-1] != "" and not line.startswith("agreement "):
            table.append("")
    while table and table[-1] == "":
        table.pop()
    shown = " ".join(f"{k}={v}" for k, v in extra.items())
    body = [f"Measured {machine()}:", "", "```",
            f"{shown + ' ' if shown else ''}{' '.join(command).replace(PYTHON, 'python')}", "```", ""]
    # A script that prints no markdown table: its whole output, as printed.
    body += (table or ["```"] + run.stdout.rstrip().splitlines() + ["```"]) + [""]
    if checks:
        body += ["Agreement checks of the same run:", ""] + [f"- {l[len('agreement '):]}" for l in checks] + [""]
    pattern = re.compile(rf"(<!-- generated: {re.escape(name)} -->\n).*?(<!-- end: {re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"BENCHMARKS.md has no block `<!-- generated: {name} -->`")
    return pattern.sub(lambda m: m.group(1) + "\n".join(body) + "\n" + m.group(2), text)


def main():
    names = sys.argv[1:] or list(BLOCKS)
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        sys.exit(f"unknown blocks {unknown}; known: {list(BLOCKS)}")
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    for name in names:
        text = regenerate(name, text)
    open(path, "w").write(text)
    print(f"BENCHMARKS.md: regenerated {', '.join(names)}")


if __name__ == "__main__":
    main()
