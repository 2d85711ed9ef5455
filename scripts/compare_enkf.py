"""Analysis-step timing at N = 1024, every point observed: the authors' dense formulation
(N × N covariance and inverse), an ensemble-space numpy EnKF, and medida's criterion bench,
in one run (by hand, never in CI).

    /tmp/venv/bin/python scripts/compare_enkf.py
"""
import subprocess
import time

import numpy as np

N = 1024


def dense_enkf(E, y, r, rng):
    """The authors' form: P = A Aᵀ/(m−1), K = P Hᵀ inv(H P Hᵀ + R), perturbed observations."""
    m = E.shape[1]
    A = E - E.mean(axis=1, keepdims=True)
    P = A @ A.T / (m - 1)
    K = P @ np.linalg.inv(P + r * np.eye(N))
    D = y[:, None] + np.sqrt(r) * rng.standard_normal((N, m))
    return E + K @ (D - E)


def ensemble_space_enkf(E, y, r, rng):
    m = E.shape[1]
    A = E - E.mean(axis=1, keepdims=True)
    S = A / np.sqrt(r)
    D = (y[:, None] - E) / np.sqrt(r) + rng.standard_normal((N, m))
    C = S.T @ S + (m - 1) * np.eye(m)
    W = np.linalg.solve(C, S.T @ D)
    return E + A @ W


def best_of(function, repeats, *args):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(N) * 0.1)
    print(f"{'members':>8} {'dense numpy':>12} {'ensemble numpy':>15}")
    for m in (100, 1000, 10240):
        E = x[:, None] + 0.1 * rng.standard_normal((N, m))
        y = x + 0.05
        dense = best_of(dense_enkf, 3 if m < 10240 else 1, E, y, 0.01, rng)
        ens = best_of(ensemble_space_enkf, 3 if m < 10240 else 1, E, y, 0.01, rng)
        print(f"{m:>8} {dense * 1e3:>10.1f}ms {ens * 1e3:>13.1f}ms")
    print("\nmedida (criterion, median):")
    out = subprocess.run(
        ["cargo", "bench", "--bench", "assimilation", "--", "analysis_n1024_full/enkf"],
        capture_output=True,
        text=True,
    ).stdout
    name = None
    for line in out.splitlines():
        if line.startswith("analysis_n1024_full"):
            name = line.split()[0]
        if "time:" in line and name:
            print(f"  {name}: {line.split('[')[1].split()[2:4]}")
            name = None


if __name__ == "__main__":
    main()
