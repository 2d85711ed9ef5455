"""Accumulation and fit speed, numpy/scikit-learn next to medida's criterion bench, in one run
(by hand, never in CI): ΦᵀΦ and Φᵀy for 10⁶ × 25 rows, the same streamed to 10⁷, and
scikit-learn's ARDRegression on the 10⁶ rows.

    /tmp/venv/bin/python scripts/compare_regression.py
"""
import subprocess
import time

import numpy as np


def data(rows, p):
    r = np.arange(rows, dtype=np.int64)[:, None]
    j = np.arange(p, dtype=np.int64)[None, :]
    x = ((r * 2654435761 + j * 40503) % 1000) / 500.0 - 1.0
    y = 2.0 * x[:, 3] - 0.5 * x[:, 7] + 1e-3 * ((np.arange(rows) % 17) - 8.0)
    return x, y


def best_of(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    x, y = data(1_000_000, 25)
    gram = best_of(lambda: (x.T @ x, x.T @ y, y @ y, x.sum(axis=0)), 5)
    streamed = best_of(lambda: [(x.T @ x, x.T @ y) for _ in range(10)], 2)
    from sklearn.linear_model import ARDRegression

    ard = best_of(lambda: ARDRegression(threshold_lambda=1e2).fit(x[:200_000], y[:200_000]), 1)
    print(f"numpy ΦᵀΦ, Φᵀy, yᵀy, sums, 10⁶ × 25: {gram * 1e3:.1f} ms")
    print(f"numpy 10⁷ rows streamed (10 × 10⁶):  {streamed * 1e3:.1f} ms")
    print(f"scikit-learn ARDRegression on 2·10⁵ × 25 rows (fit from rows): {ard * 1e3:.1f} ms")
    print("\nmedida (criterion, median):")
    out = subprocess.run(
        ["cargo", "bench", "--bench", "regression", "--", "--warm-up-time", "1",
         "--measurement-time", "3"],
        capture_output=True,
        text=True,
    ).stdout
    name = None
    for line in out.splitlines():
        if line.startswith("regression/"):
            name = line.split()[0]
        if "time:" in line and name:
            print(f"  {name}: {' '.join(line.split('[')[1].split()[2:4])}")
            name = None


if __name__ == "__main__":
    main()
