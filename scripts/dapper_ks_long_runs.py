"""DAPPER's KS square-root EnKF (Bocquet et al. 2019 settings: 20 members, inflation 1.03)
over the full 20,000 observation times, two seeds, with and without random rotations,
printing the time-mean analysis RMSE and its mean over each block of 1,000 cycles — to see
whether DAPPER's own filter has the divergence episodes that medida's long runs show (run by
hand, never by CI).

    /tmp/venv/bin/python scripts/dapper_ks_long_runs.py
"""
import sys, time, numpy as np
import dapper.da_methods as da
import dapper.tools.progressbar as progressbar
progressbar.disable_progbar = True
from dapper.mods.KS.bocquet2019 import HMM as ks
for seed in (2024, 7):
  for rot in (True, False):
    ks.tseq.Ko = 20000
    ks.tseq.BurnIn = 2000 * ks.tseq.dto
    np.random.seed(seed)
    xx, yy = ks.simulate()
    xp = da.EnKF("Sqrt", N=20, infl=1.03, rot=rot)
    t = time.perf_counter()
    xp.assimilate(ks, xx, yy)
    xp.stats.average_in_time()
    err = xp.stats.err.rms.a
    blocks = [float(np.mean(err[i:i+1000])) for i in range(0, 20000, 1000)]
    print(seed, "rot" if rot else "norot", f"{xp.avrgs.err.rms.a.val:.3f}", f"{time.perf_counter()-t:.0f}s", " ".join(f"{b:.2f}" for b in blocks), flush=True)
