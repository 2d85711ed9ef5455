"""medida's QG solver against pyqg 0.7.2 built against pyfftw, in pyqg's own configuration
(QGModel defaults at nx = 64, 128 and 256, no dealiasing, AB3), one thread each.

Agreement (the run stops when a check fails): pyqg must be running on pyfftw plans (it
silently falls back to numpy.fft when pyfftw was missing when it was built); the same PV field
must give the same tendency to 1e-13; 20 AB3 steps from the same state must agree to
time-stepping accuracy (pyqg also applies its small-scale filter, medida does not: 1e-4).
Timing alternates the two sides in rounds (min / median ms per step). By hand, never in CI:

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install "numpy<2" "cython<3" "pyfftw<0.14" setuptools wheel setuptools_scm
    SETUPTOOLS_SCM_PRETEND_VERSION=0.7.2 /tmp/bench-venv/bin/pip install --no-build-isolation pyqg==0.7.2
    OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 /tmp/bench-venv/bin/python scripts/compare_pyqg.py
"""
import argparse
import gc
import os
import re
import tempfile
import time

import numpy as np
import pyqg

from sides import agree, alternate, cargo_example

try:
    import pyfftw
except ImportError:
    pyfftw = None


def fftw_plans(model):
    """The FFTW plans alive for arrays of this model's shape (pyqg makes them when it was
    built against pyfftw)."""
    if pyfftw is None:
        return 0
    shapes = {model.q.shape, model.qh.shape}
    return sum(isinstance(o, pyfftw.FFTW) and (tuple(o.input_shape) in shapes)
               for o in gc.get_objects())


def smooth_q(nx, rng, amplitude=1e-6):
    """A random PV field on the lowest eighth of the modes (far from Nyquist)."""
    spectrum = np.zeros((2, nx, nx // 2 + 1), complex)
    cut = nx // 8
    for layer in range(2):
        for j in list(range(cut + 1)) + list(range(nx - cut, nx)):
            for i in range(cut + 1):
                spectrum[layer, j, i] = rng.standard_normal() + 1j * rng.standard_normal()
    spectrum[:, 0, 0] = 0
    q = np.fft.irfft2(spectrum, s=(nx, nx))
    return amplitude * q / np.abs(q).max()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    steps = 20
    rows = []
    for nx in map(int, args.sizes.split(",")):
        m = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        agree(f"pyqg {nx}² on pyfftw (1 = no FFTW plan for its arrays)", 0 if fftw_plans(m) > 0 else 1, 0)
        q = smooth_q(nx, rng)
        m.set_q(q)
        m._invert()
        m._do_advection()
        m._do_friction()
        folder = tempfile.mkdtemp()
        np.save(os.path.join(folder, "q.npy"), q)
        tendency = np.fft.irfft2(m.dqhdt, s=(nx, nx))
        example = ["qg_tendency", os.path.join(folder, "q.npy"), folder,
                   "--length", m.L, "--beta", m.beta, "--f1", m.F1, "--f2", m.F2,
                   "--u1", m.U1, "--u2", m.U2, "--drag", m.rek, "--dt", m.dt, "--steps", steps]
        cargo_example(*example)
        ours = np.load(os.path.join(folder, "tendency.npy"))
        tendency_diff = agree(f"{nx}² tendency, max rel.",
                              np.abs(ours - tendency).max() / np.abs(tendency).max(), 1e-13)
        m2 = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        m2.set_q(q)
        for _ in range(steps):
            m2._step_forward()
        after = np.load(os.path.join(folder, "after.npy"))
        run_diff = agree(f"{nx}² after {steps} AB3 steps, max rel.",
                         np.abs(after - m2.q).max() / np.abs(m2.q).max(), 1e-4)

        m3 = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        m3.set_q(q)
        repeats = max(20, 1_000_000 // (nx * nx))

        def pyqg_side():
            start = time.perf_counter()
            for _ in range(repeats):
                m3._step_forward()
            return [(time.perf_counter() - start) / repeats]

        def medida_side():
            text = cargo_example(*example)
            return [float(re.search(r"ms_per_step=([\d.]+)", text).group(1)) / 1e3]

        result = alternate({"pyqg": pyqg_side, "medida": medida_side}, args.rounds)
        rows.append((nx, tendency_diff, run_diff, result["pyqg"], result["medida"]))
    print("\n| nx | same-state tendency, max rel. diff. | after 20 AB3 steps | pyqg ms/step (min / median) | medida ms/step (min / median) | speed-up (medians) |")
    print("|---|---|---|---|---|---|")
    for nx, t, r, p, o in rows:
        print(f"| {nx} | {t:.1e} | {r:.1e} | {1e3 * p[0]:.3f} / {1e3 * p[1]:.3f} | "
              f"{1e3 * o[0]:.3f} / {1e3 * o[1]:.3f} | {p[1] / o[1]:.2f}× |")

if __name__ == "__main__":
    main()
