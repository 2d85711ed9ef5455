"""The published ensemble-filter benchmarks, medida (`examples/filter_benchmarks.rs`) and
DAPPER 1.7.1 on the same rows: the same models, observation operators, members, inflation,
localization and random rotations (`rot=True` where DAPPER's row has it, `Rotated` in
medida), the same number of cycles and burn-in, several seeds on each side (DAPPER seeded
through `dapper.tools.seeding.set_seed`, which is what its draws use; `np.random.seed` is not),
the mean and spread of the time-mean analysis RMSE over the seeds, the runs that diverged
(RMSE above twice the published figure) counted apart, and the seconds per run. The two
sides draw different numbers: they agree in distribution, not run by run.

    python3 -m venv /tmp/dapper-venv && /tmp/dapper-venv/bin/pip install dapper==1.7.1
    /tmp/dapper-venv/bin/python scripts/compare_dapper.py [--cycles 4000] [--seeds 1,2,3,4,5]
    /tmp/dapper-venv/bin/python scripts/compare_dapper.py --rows 2,5 --seeds 1-20   # two rows

`--seeds` takes a list or a range a-b; `--rows` picks rows by their place in the table (1..5).
"""
import argparse
import re
import statistics
import time

import dapper.da_methods as da
import dapper.tools.progressbar as progressbar
from dapper.tools.seeding import set_seed

from sides import cargo_example

progressbar.disable_progbar = True


def dapper_rows():
    from dapper.mods.KS.bocquet2019 import HMM as ks
    from dapper.mods.Lorenz96.sakov2008 import HMM as lorenz
    return [
        ("Lorenz-96", lorenz, lambda: da.EnKF("PertObs", N=40, infl=1.06), 0.22),
        ("Lorenz-96", lorenz, lambda: da.EnKF("Sqrt", N=24, infl=1.013, rot=True), 0.18),
        ("Lorenz-96", lorenz, lambda: da.LETKF(N=7, rot=True, infl=1.04, loc_rad=4), 0.22),
        ("KS", ks, lambda: da.LETKF(N=16, loc_rad=51 / 1.82, infl=1.02, rot=True, taper="GC"), 0.11),
        ("KS", ks, lambda: da.EnKF("Sqrt", N=20, infl=1.03, rot=True), 0.115),
    ]


def dapper_run(hmm, make, cycles, seed):
    # The burn-in first: shortening the run below the default burn-in makes DAPPER warn.
    hmm.tseq.BurnIn = cycles // 10 * hmm.tseq.dto
    hmm.tseq.Ko = cycles
    set_seed(seed)
    xx, yy = hmm.simulate()
    xp = make()
    start = time.perf_counter()
    xp.assimilate(hmm, xx, yy)
    seconds = time.perf_counter() - start
    xp.stats.average_in_time()
    return xp.avrgs.err.rms.a.val, seconds, xp


def summary(values, published):
    kept = [v for v in values if v == v and v <= 2 * published]
    diverged = len(values) - len(kept)
    if not kept:
        return "—", diverged
    spread = statistics.stdev(kept) if len(kept) > 1 else 0.0
    return f"{statistics.mean(kept):.3f} ± {spread:.3f}", diverged


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=4000)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--rows", default="1,2,3,4,5")
    args = parser.parse_args()
    if "-" in args.seeds:
        first, last = map(int, args.seeds.split("-"))
        seeds = list(range(first, last + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    rows = [int(r) for r in args.rows.split(",")]
    listed = ",".join(map(str, seeds))
    ours = cargo_example("filter_benchmarks", "--cycles", args.cycles, "--seeds", listed,
                         "--rows", args.rows)
    medida_rows = [l for l in ours.splitlines() if l.startswith("| ") and not l.startswith("| system")]
    print(f"{args.cycles} cycles, the first {args.cycles // 10} not scored, seeds {seeds} on each side")
    print("\n| system | filter | members | published | medida RMSE | medida diverged | DAPPER RMSE | DAPPER diverged | medida s/run | DAPPER s/run | DAPPER / medida time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    chosen = [row for k, row in enumerate(dapper_rows(), 1) if k in rows]
    for (system, hmm, make, published), line in zip(chosen, medida_rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        values, times, name = [], [], ""
        for seed in seeds:
            rmse, seconds, xp = dapper_run(hmm, make, args.cycles, seed)
            values.append(rmse)
            times.append(seconds)
            name = f"{type(xp).__name__}"
        rmse, diverged = summary(values, published)
        ours_seconds = float(cells[6])
        theirs = statistics.mean(times)
        print(f"| {system} | {cells[1]} | {cells[2]} | {published} | {cells[4]} | {cells[5]} | "
              f"{rmse} | {diverged} of {len(seeds)} | {ours_seconds:.2f} | {theirs:.2f} | "
              f"{theirs / ours_seconds:.0f}× |", flush=True)


if __name__ == "__main__":
    main()
