"""medida's QG solver against pyqg 0.7.2 in pyqg's own configuration (QGModel defaults at
nx = 64 and 128): the same PV field must give the same tendency, short AB3 runs from the same
state must agree to time-stepping accuracy (pyqg also applies its small-scale filter, medida
does not), and the time per step is compared on one thread. By hand, never in CI:

    python3 -m venv /tmp/pyqgvenv
    /tmp/pyqgvenv/bin/pip install "numpy<2" "cython<3" setuptools wheel setuptools_scm
    SETUPTOOLS_SCM_PRETEND_VERSION=0.7.2 /tmp/pyqgvenv/bin/pip install --no-build-isolation pyqg==0.7.2
    OMP_NUM_THREADS=1 /tmp/pyqgvenv/bin/python scripts/compare_pyqg.py
"""
import os
import re
import subprocess
import tempfile
import time

import numpy as np
import pyqg


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
    rng = np.random.default_rng(3)
    steps = 20
    print(f"{'nx':>4} {'tendency rel. diff':>19} {'after 20 AB3 steps':>19} {'pyqg ms/step':>13} {'medida ms/step':>15} {'speed-up':>9}")
    for nx in (64, 128, 256):
        m = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        q = smooth_q(nx, rng)
        m.set_q(q)
        m._invert()
        m._do_advection()
        m._do_friction()
        ours_dir = tempfile.mkdtemp()
        np.save(os.path.join(ours_dir, "q.npy"), q)
        tendency = np.fft.irfft2(m.dqhdt, s=(nx, nx))
        run = subprocess.run(
            ["cargo", "run", "--release", "--quiet", "--example", "qg_tendency", "--",
             os.path.join(ours_dir, "q.npy"), ours_dir,
             "--length", str(m.L), "--beta", str(m.beta), "--f1", str(m.F1), "--f2", str(m.F2),
             "--u1", str(m.U1), "--u2", str(m.U2), "--drag", str(m.rek), "--dt", str(m.dt),
             "--steps", str(steps)],
            capture_output=True, text=True, check=True,
        )
        ours = np.load(os.path.join(ours_dir, "tendency.npy"))
        tendency_diff = np.abs(ours - tendency).max() / np.abs(tendency).max()

        m2 = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        m2.set_q(q)
        for _ in range(steps):
            m2._step_forward()
        after = np.load(os.path.join(ours_dir, "after.npy"))
        run_diff = np.abs(after - m2.q).max() / np.abs(m2.q).max()

        m3 = pyqg.QGModel(nx=nx, log_level=0, ntd=1)
        m3.set_q(q)
        repeats = max(20, 2_000_000 // (nx * nx))
        start = time.perf_counter()
        for _ in range(repeats):
            m3._step_forward()
        pyqg_ms = 1e3 * (time.perf_counter() - start) / repeats
        ours_ms = float(re.search(r"ms_per_step=([\d.]+)", run.stdout).group(1))
        print(f"{nx:>4} {tendency_diff:>19.2e} {run_diff:>19.2e} {pyqg_ms:>13.3f} {ours_ms:>15.3f} {pyqg_ms / ours_ms:>9.2f}")


if __name__ == "__main__":
    main()
