"""How the authors' QG Jacobian was formed: candidates against their rhs term.

Run by hand in a scratch venv with numpy (never needed by CI):

    python scripts/authors_jacobian.py ../shared/data/reference-qg/qg-truth-rhs-terms.npz

Prints max |J_candidate - J_authors| / max |J_authors| for layer 1 at their snapshot.
Measured 2026-11-28: real-FFT products without dealiasing 6.2 %; real-FFT 3/2 padding with the
Nyquist derivatives zeroed (medida's and pyqg's form) 3.4 %; complex FFTs with the Nyquist bins
kept in the derivatives and placed in the negative half of the 3/2-padded spectrum 0.77 %, the
rest concentrated in the meridional Nyquist row and near the jet axis; no placement of the
Nyquist bins (256 combinations), zeroing, flux form or full-PV variant does better. The reference
stores only real fields, and the authors' complex-FFT state carries imaginary parts (see
`psi_R_imag_maxabs` in the pair files), which is the likely remainder.
"""
import itertools
import sys

import numpy as np

r = np.load(sys.argv[1])
ny, nx = r["psi1"].shape
lx, ly = 46.0, 68.0
KX, LY = np.meshgrid(2 * np.pi / lx * np.fft.fftfreq(nx, 1 / nx),
                     2 * np.pi / ly * np.fft.fftfreq(ny, 1 / ny))
ref = r["jacobian_1"]
p1h, p2h = np.fft.fft2(r["psi1"]), np.fft.fft2(r["psi2"])
q1h = -(KX**2 + LY**2) * p1h - (p1h - p2h)
M, N = ny * 3 // 2, nx * 3 // 2


def rel(a):
    return np.abs(a - ref).max() / np.abs(ref).max()


def blocks(n_small, n_big, positive, negative):
    small = list(range(positive)) + list(range(n_small - negative, n_small))
    big = list(range(positive)) + list(range(n_big - negative, n_big))
    return np.array(small), np.array(big)


def convention(n, which):
    h = n // 2
    return {"a": (h, h), "b": (h + 1, h - 1), "c": (h, h - 1), "d": (h + 1, h)}[which]


results = []
for cy, cx, uy, ux in itertools.product("abcd", repeat=4):
    sy, by = blocks(ny, M, *convention(ny, cy))
    sx, bx = blocks(nx, N, *convention(nx, cx))

    def up(fh):
        big = np.zeros((M, N), complex)
        big[np.ix_(by, bx)] = fh[np.ix_(sy, sx)]
        return np.fft.ifft2(big).real * (M * N) / (nx * ny)

    px, py = up(1j * KX * p1h), up(1j * LY * p1h)
    qx, qy = up(1j * KX * q1h), up(1j * LY * q1h)
    product = np.fft.fft2(px * qy - py * qx)
    sy2, by2 = blocks(ny, M, *convention(ny, uy))
    sx2, bx2 = blocks(nx, N, *convention(nx, ux))
    small = np.zeros((ny, nx), complex)
    small[np.ix_(sy2, sx2)] = product[np.ix_(by2, bx2)] * (nx * ny) / (M * N)
    results.append((rel(-np.fft.ifft2(small).real), cy + cx + uy + ux))
results.sort()
print("complex-FFT 3/2 padding, best Nyquist placements:", results[:3])

# medida's / pyqg's form: real FFTs, Nyquist derivatives zero, 3/2 padding.
kx = 2 * np.pi / lx * np.arange(nx // 2 + 1)
K, L = np.meshgrid(kx, 2 * np.pi / ly * np.fft.fftfreq(ny, 1 / ny))


def d(f, factor):
    return np.fft.irfft2(factor * np.fft.rfft2(f), s=f.shape)


def padded_product(a, b):
    def up(f):
        fh = np.fft.rfft2(f)
        big = np.zeros((M, N // 2 + 1), complex)
        big[: ny // 2, : nx // 2 + 1] = fh[: ny // 2]
        big[-ny // 2:, : nx // 2 + 1] = fh[ny // 2:]
        return np.fft.irfft2(big * (M * N) / (nx * ny), s=(M, N))

    ph = np.fft.rfft2(up(a) * up(b)) * (nx * ny) / (M * N)
    small = np.zeros((ny, nx // 2 + 1), complex)
    small[: ny // 2] = ph[: ny // 2, : nx // 2 + 1]
    small[ny // 2:] = ph[-ny // 2:, : nx // 2 + 1]
    return np.fft.irfft2(small, s=(ny, nx))


psi1, q1 = r["psi1"], np.fft.irfft2(np.fft.rfft2(r["psi1"]) * -(K**2 + L**2), s=(ny, nx)) - (r["psi1"] - r["psi2"])
plain = -(d(psi1, 1j * K) * d(q1, 1j * L) - d(psi1, 1j * L) * d(q1, 1j * K))
dealiased = -(padded_product(d(psi1, 1j * K), d(q1, 1j * L)) - padded_product(d(psi1, 1j * L), d(q1, 1j * K)))
print("real FFT, no dealiasing:", rel(plain))
print("real FFT, 3/2 padding (medida, pyqg):", rel(dealiased))
