"""Why the authors' KS truth run (L = 100, N = 1024, dt = 1e-3, ETDRK4) blows up near t ≈ 270:
it integrates with complex FFTs and never enforces Hermitian symmetry, so u carries an
imaginary part born of round-off. The KS operator amplifies it like any other perturbation and
the nonlinear term couples it back, until it overflows. This script integrates the same scheme
in the complex form (no dealiasing, as the authors) and prints max |Im u| and max |Re u| as time
goes on; medida's real-FFT form has no imaginary part to grow (and adds 2/3 dealiasing).

    /tmp/venv/bin/python scripts/authors_blowup.py [T]      # T = 300 by default (~2 min)
"""
import sys

import numpy as np


def main():
    until = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    n, length, h = 1024, 100.0, 1e-3
    x = -length / 2 + length * np.arange(n) / n
    u = -np.cos(2 * np.pi * x / length) * (1 + np.sin(-2 * np.pi * x / length))
    k = 2 * np.pi / length * np.fft.fftfreq(n, 1.0 / n)
    lin = k**2 - k**4
    e, e2 = np.exp(h * lin), np.exp(h * lin / 2)
    roots = np.exp(1j * np.pi * (np.arange(1, 33) - 0.5) / 32)
    lr = h * lin[:, None] + roots[None, :]
    q = h * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = h * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = h * np.real(np.mean((2 + lr + np.exp(lr) * (lr - 2)) / lr**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))
    g = -0.5j * k
    v = np.fft.fft(u)

    def nonlinear(v):
        w = np.fft.ifft(v)  # complex: the imaginary part is kept, never projected out
        return g * np.fft.fft(w * w)

    steps_per_report = int(round(10.0 / h))
    with np.errstate(all="ignore"):
        for step in range(1, int(round(until / h)) + 1):
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2 * nb - nv)
            nc = nonlinear(c)
            v = e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3
            if step % steps_per_report == 0:
                w = np.fft.ifft(v)
                print(f"t = {step * h:6.1f}  max|Re u| = {np.max(np.abs(w.real)):.3e}  "
                      f"max|Im u| = {np.max(np.abs(w.imag)):.3e}", flush=True)
                if not np.all(np.isfinite(w)):
                    print(f"blew up before t = {step * h:.1f}")
                    return


if __name__ == "__main__":
    main()
