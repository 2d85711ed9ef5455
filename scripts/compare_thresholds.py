#!/usr/bin/env python3
"""The automatic model choice against a reference binary's thresholds on the noisy cases.

Runs every noisy or sparse built-in case (data/ks/*-noise1*, data/qg/*-noisy, *-sparse50)
with two medida binaries on the same case files and the same seeds (so the same observation
noise), and prints one Markdown row per case: exact terms or not, worst relative error of an
expected coefficient, spurious and missed terms, and wall seconds, for each binary. Exits
non-zero when the candidate finds fewer cases exactly than the reference.

    python3 scripts/compare_thresholds.py REFERENCE_BINARY CANDIDATE_BINARY

BENCHMARKS.md ("Automatic model choice") records the reference = the commit before the
unit-free regression (KS: fixed prune_alpha = 1e2 in the target's units; QG: the knee).
"""
import json, pathlib, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def key(term):
    return (term.get("layer"), term["term"])


def outcome(binary, case, out):
    target = pathlib.Path(out) / f"{case.stem}.json"
    clock = time.perf_counter()
    subprocess.run([binary, "run", str(case), "--json", str(target), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - clock
    report = json.loads(target.read_text())
    expected = {key(t): t["coefficient"] for t in report["expected"]}
    found = {key(t): t["coefficient"] for t in report["discovered"]}
    worst = max((abs(found.get(k, 0.0) - v) / abs(v) for k, v in expected.items()), default=0.0)
    spurious = len(set(found) - set(expected))
    missed = len(set(expected) - set(found))
    return (spurious == 0 and missed == 0), worst, spurious, missed, seconds


def cell(o):
    exact, worst, spurious, missed, seconds = o
    return (f"{'exact' if exact else 'no'} | {100 * worst:.2f} % | {spurious} | {missed} | "
            f"{seconds:.1f}")


def main(reference, candidate):
    cases = sorted(list((ROOT / "data/ks").glob("*-noise1*.toml"))
                   + list((ROOT / "data/qg").glob("*-noisy.toml"))
                   + list((ROOT / "data/qg").glob("*-sparse50.toml")))
    print("| case | reference: terms | worst | spurious | missed | s "
          "| automatic: terms | worst | spurious | missed | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    totals = {"reference": [0, 0.0], "automatic": [0, 0.0]}
    with tempfile.TemporaryDirectory() as out:
        for case in cases:
            r = outcome(reference, case, out)
            a = outcome(candidate, case, out)
            for name, o in (("reference", r), ("automatic", a)):
                totals[name][0] += o[0]
                totals[name][1] += o[4]
            print(f"| {case.stem} | {cell(r)} | {cell(a)} |", flush=True)
    for name, (exact, seconds) in totals.items():
        print(f"\n{name}: {exact} of {len(cases)} cases exact, {seconds:.1f} s in all")
    return 0 if totals["automatic"][0] >= totals["reference"][0] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
