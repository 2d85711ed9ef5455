"""KS solver speed, medida next to numpy and pyfftw implementations of the same schemes, in one
run (by hand, never in CI), with a check that both sides computed the same final state:

  (a) ETDRK4 (Kassam & Trefethen, 64-point contour coefficients, 2/3 dealiasing, conservative
      flux) on the standard KS, L = 100, dt = 0.01, at N = 128, 1024, 4096;
  (b) J. F. Gibson's KS-CNAB2 benchmark (julia-pde-benchmark): Lx = N·π/16, dt = 1/16,
      T = 200 (3200 steps), no dealiasing, at N = 1024 and 8192.

Agreement (the run stops when a check fails): every side's final state against numpy's, the
same scheme from the same state. The chaotic KS amplifies round-off over a run, so the
tolerance is 100 × what a 1e-15 relative change of the initial state grows to in numpy's own
run (at most 1e-3; both are printed). The sides alternate in rounds.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy pyfftw
    /tmp/venv/bin/python scripts/compare_ks_speed.py
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
import time

import numpy as np

from sides import agree, alternate, cargo_example

try:
    import pyfftw
except ImportError:  # the numpy columns still run
    pyfftw = None


def best_of(repeats, function):
    best = np.inf
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def etdrk4_setup(n, length, dt):
    k = 2 * np.pi / length * np.arange(n // 2 + 1)
    k_odd = k.copy()
    k_odd[-1] = 0.0  # i k is zero at Nyquist
    lin = k**2 - k**4
    z = dt * lin[:, None] + np.exp(2j * np.pi * (np.arange(64) + 0.5) / 64)[None, :]
    e, e2 = np.exp(dt * lin), np.exp(dt * lin / 2)
    q = dt * np.real(np.mean((np.exp(z / 2) - 1) / z, axis=1))
    f1 = dt * np.real(np.mean((-4 - z + np.exp(z) * (4 - 3 * z + z**2)) / z**3, axis=1))
    f2 = dt * np.real(np.mean((2 + z + np.exp(z) * (z - 2)) / z**3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * z - z**2 + np.exp(z) * (4 - z)) / z**3, axis=1))
    keep = np.arange(n // 2 + 1) < -(-n // 3)
    g = -0.5j * k_odd * keep
    return e, e2, q, f1, 2 * f2, f3, g


def etdrk4_run(u0, steps, coefficients, rfft, irfft):
    e, e2, q, f1, f2x2, f3, g = coefficients
    v = rfft(u0)

    def nonlinear(v):
        u = irfft(v)
        return g * rfft(u * u)

    for _ in range(steps):
        nv = nonlinear(v)
        a = e2 * v + q * nv
        na = nonlinear(a)
        b = e2 * v + q * na
        nb = nonlinear(b)
        c = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(c)
        v = e * v + f1 * nv + f2x2 * (na + nb) + f3 * nc
    return irfft(v)


def gibson_numpy(n, nudge=0.0):
    """Gibson's KS-CNAB2 algorithm, written with numpy.fft.rfft (`nudge`: a relative change
    of the initial state, for the run's sensitivity to round-off)."""
    lx, dt, nt = n / 16 * np.pi, 1 / 16, 3200
    x = lx * np.arange(n) / n
    u = np.cos(x) + 0.1 * np.sin(x / 8) + 0.01 * np.cos(2 * np.pi / lx * x)
    u = u * (1 + nudge * np.cos(7 * x / lx))
    alpha = 2 * np.pi / lx * np.arange(n // 2 + 1)
    d = 1j * alpha
    d[-1] = 0.0
    lin = alpha**2 - alpha**4
    g = -0.5 * d
    a_inv = 1 / (1 - dt / 2 * lin)
    b = (1 + dt / 2 * lin) * a_inv
    v = np.fft.rfft(u)
    n0 = n1 = g * np.fft.rfft(u * u)
    for _ in range(nt):
        n0, n1 = n1, g * np.fft.rfft(np.fft.irfft(v, n) ** 2)
        v = b * v + dt / 2 * a_inv * (3 * n1 - n0)
    return np.fft.irfft(v, n)


def norm(u):
    return np.sqrt(np.mean(u * u))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if pyfftw is None:
        sys.exit("pyfftw is not installed: the comparison needs it (pip install pyfftw)")
    folder = tempfile.mkdtemp()
    runs = []

    def medida_side():
        runs.append(cargo_example("ks_speed", "--states", folder))
        return [0.0]

    states = {}
    numpy_times, fftw_times, gibson_times = {}, {}, {}

    def numpy_side():
        for n in (128, 1024, 4096):
            steps = 2_000_000 // n
            x = -50 + 100 * np.arange(n) / n
            u0 = -np.cos(2 * np.pi * x / 100) * (1 + np.sin(-2 * np.pi * x / 100))
            co = etdrk4_setup(n, 100.0, 0.01)
            t, u = best_of(1, lambda: etdrk4_run(u0, steps, co, np.fft.rfft, lambda v: np.fft.irfft(v, n)))
            numpy_times.setdefault(n, []).append(t / steps)
            states[("numpy", n)] = u
            forward = pyfftw.builders.rfft(np.zeros(n), threads=1)
            inverse = pyfftw.builders.irfft(np.zeros(n // 2 + 1, complex), n=n, threads=1)
            t, u = best_of(1, lambda: etdrk4_run(u0, steps, co, lambda u: forward(u).copy(), lambda v: inverse(v).copy()))
            fftw_times.setdefault(n, []).append(t / steps)
            states[("pyfftw", n)] = u
        for n in (1024, 8192):
            t, u = best_of(1, lambda: gibson_numpy(n))
            gibson_times.setdefault(n, []).append(t)
            states[("gibson", n)] = u
        return [0.0]

    alternate({"medida": medida_side, "numpy": numpy_side}, args.rounds)
    ours = {}
    for text in runs:
        for line in text.splitlines():
            fields = dict(re.findall(r"(\w+)=([\d.e+-]+)", line))
            key = (line.split()[0], int(fields["N"]))
            ours.setdefault(key, []).append(fields)
    med = lambda values: statistics.median(values)

    def rel(a, b):
        return np.abs(a - b).max() / np.abs(b).max()

    def tolerance(nudged, reference):
        """The chaotic KS amplifies round-off over the run: two sides agree when they differ
        by no more than 100 × what a 1e-15 change of the initial state grows to (numpy's own
        run, nudged), and never by more than 1e-3."""
        return min(1e-3, max(1e-12, 100 * rel(nudged, reference)))

    def etdrk4_numpy(n, nudge=0.0):
        x = -50 + 100 * np.arange(n) / n
        u0 = -np.cos(2 * np.pi * x / 100) * (1 + np.sin(-2 * np.pi * x / 100))
        u0 = u0 * (1 + nudge * np.cos(7 * x / 100))
        return etdrk4_run(u0, 2_000_000 // n, etdrk4_setup(n, 100.0, 0.01), np.fft.rfft,
                          lambda v: np.fft.irfft(v, n))

    print("(a) ETDRK4, µs per step (medians of alternating rounds; medida's own runs are best of 5)")
    print("\n| N | numpy | pyfftw | medida | FFT floor | realfft floor | × numpy | × pyfftw |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (128, 1024, 4096):
        mine = np.load(os.path.join(folder, f"etdrk4_{n}.npy"))
        # The same scheme from the same state.
        limit = tolerance(etdrk4_numpy(n, 1e-15), states[("numpy", n)])
        agree(f"ETDRK4 N = {n}, pyfftw vs numpy final state (max rel.)", rel(states[("pyfftw", n)], states[("numpy", n)]), limit)
        agree(f"ETDRK4 N = {n}, medida vs numpy final state (max rel.)", rel(mine, states[("numpy", n)]), limit)
        us = med([float(f["us_per_step"]) for f in ours[("etdrk4", n)]])
        floor = med([float(f["fft_floor_us"]) for f in ours[("etdrk4", n)]])
        realfft_floor = med([float(f["realfft_floor_us"]) for f in ours[("etdrk4", n)]])
        us_np, us_fftw = 1e6 * med(numpy_times[n]), 1e6 * med(fftw_times[n])
        print(f"| {n} | {us_np:.2f} | {us_fftw:.2f} | {us:.2f} | {floor:.2f} | {realfft_floor:.2f} | "
              f"{us_np / us:.1f} | {us_fftw / us:.1f} |")

    print("\n(b) Gibson KS-CNAB2, seconds for 3200 steps")
    print("\n| N | numpy | medida | × numpy |")
    print("|---|---|---|---|")
    for n in (1024, 8192):
        mine = np.load(os.path.join(folder, f"gibson_{n}.npy"))
        limit = tolerance(gibson_numpy(n, 1e-15), states[("gibson", n)])
        agree(f"Gibson CNAB2 N = {n}, medida vs numpy final state (max rel.)", rel(mine, states[("gibson", n)]), limit)
        s = med([float(f["seconds"]) for f in ours[("gibson", n)]])
        t_np = med(gibson_times[n])
        print(f"| {n} | {t_np:.4f} | {s:.4f} | {t_np / s:.1f} |")


if __name__ == "__main__":
    main()
