"""DAPPER's own run of the filter benchmarks that `examples/filter_benchmarks.rs` reproduces,
with the same settings, for a side-by-side table (run by hand, never by CI).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install dapper   # 1.7.1 on Python 3.11
    /tmp/venv/bin/python scripts/dapper_benchmarks.py --cycles 4000
"""
import argparse
import time

import numpy as np

import dapper.da_methods as da
import dapper.tools.progressbar as progressbar

progressbar.disable_progbar = True


def run(hmm, xp, cycles, seed):
    hmm.tseq.Ko = cycles
    hmm.tseq.BurnIn = cycles // 10 * hmm.tseq.dto
    np.random.seed(seed)
    xx, yy = hmm.simulate()
    start = time.perf_counter()
    xp.assimilate(hmm, xx, yy)
    seconds = time.perf_counter() - start
    xp.stats.average_in_time()
    return xp.avrgs.err.rms.a.val, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=4000)
    args = parser.parse_args()
    from dapper.mods.Lorenz96.sakov2008 import HMM as lorenz
    from dapper.mods.KS.bocquet2019 import HMM as ks

    rows = [
        ("Lorenz-96", lorenz, da.EnKF("PertObs", N=40, infl=1.06), 0.22),
        ("Lorenz-96", lorenz, da.EnKF("Sqrt", N=24, infl=1.013, rot=True), 0.18),
        ("Lorenz-96", lorenz, da.LETKF(N=7, rot=True, infl=1.04, loc_rad=4), 0.22),
        ("KS", ks, da.LETKF(N=16, loc_rad=51 / 1.82, infl=1.02, rot=True, taper="GC"), 0.11),
        ("KS", ks, da.EnKF("Sqrt", N=20, infl=1.03, rot=True), 0.115),
    ]
    print(f"DAPPER, {args.cycles} cycles, first {args.cycles // 10} not scored")
    print(f"{'system':<10} {'filter':<40} {'published':>9} {'DAPPER':>8} {'seconds':>8}")
    for system, hmm, xp, published in rows:
        rmse, seconds = run(hmm, xp, args.cycles, 2024)
        name = f"{type(xp).__name__} N={xp.N} infl={xp.infl}"
        print(f"{system:<10} {name:<40} {published:>9.3f} {rmse:>8.3f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
