"""The FFT floor of one KS-CNAB2 step with FFTW: one real forward and one real inverse
transform (pyfftw, FFTW_PATIENT plans, one thread) at N = 128, 1024 and 8192 — the two
transforms every CNAB2 step needs, to compare with realfft's in `benches/ks_solver.rs` and
with the 4×-numpy budget of Gibson's benchmark (run by hand, never by CI; the Python call
overhead of two pyfftw calls is included).

    /tmp/venv/bin/python scripts/fftw_floor.py
"""
import time

import numpy as np
import pyfftw

for n in (128, 1024, 8192):
    a = pyfftw.empty_aligned(n, dtype="float64")
    a[:] = np.random.default_rng(1).random(n)
    b = pyfftw.empty_aligned(n // 2 + 1, dtype="complex128")
    forward = pyfftw.FFTW(a, b, flags=("FFTW_PATIENT",), threads=1)
    inverse = pyfftw.FFTW(
        b, a, direction="FFTW_BACKWARD", flags=("FFTW_PATIENT", "FFTW_DESTROY_INPUT"), threads=1
    )
    reps = 2_000_000 // n
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            forward()
            inverse()
        best = min(best, (time.perf_counter() - start) / reps)
    print(f"N = {n}: forward + inverse real FFT {best * 1e6:.2f} us")
