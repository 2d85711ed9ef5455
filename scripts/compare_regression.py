"""The regression side by side with numpy and scikit-learn, on the same rows, checked to agree
(by hand, never in CI; needs the wheel: `pip install ./python numpy scikit-learn`):

- accumulation: numpy's ΦᵀΦ, Φᵀy, yᵀy, sums for 10⁶ × 25 rows, timed; medida's from its
  criterion bench (`cargo bench --bench regression -- accumulate`) in the same run;
- the fit: `medida.fit` (accumulation, automatic threshold, bootstrap inclusion, held-out
  test) against scikit-learn's ARDRegression on the same 2·10⁵ rows, alternating the two
  sides `--repeats` times (min and median). Both must find the true support {x3, x7} and
  coefficients within 1e-6 (relative) of least squares on that support, or the script fails.

    python scripts/compare_regression.py [--repeats 3]
"""
import argparse
import statistics
import subprocess
import sys
import time

import numpy as np


def data(rows, p):
    r = np.arange(rows, dtype=np.int64)[:, None]
    j = np.arange(p, dtype=np.int64)[None, :]
    x = ((r * 2654435761 + j * 40503) % 1000) / 500.0 - 1.0
    y = 2.0 * x[:, 3] - 0.5 * x[:, 7] + 1e-3 * ((np.arange(rows) % 17) - 8.0)
    return x, y


def timed(function):
    start = time.perf_counter()
    out = function()
    return time.perf_counter() - start, out


def summary(values):
    return f"min {1e3 * min(values):8.1f} ms  median {1e3 * statistics.median(values):8.1f} ms"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    import medida
    from sklearn.linear_model import ARDRegression

    x, y = data(1_000_000, 25)
    gram = [timed(lambda: (x.T @ x, x.T @ y, y @ y, x.sum(axis=0)))[0] for _ in range(5)]
    print(f"numpy ΦᵀΦ, Φᵀy, yᵀy, sums, 10⁶ × 25:   {summary(gram)}")

    rows = 200_000
    xs, ys = x[:rows], y[:rows]
    labels = [f"x{j}" for j in range(x.shape[1])]
    support = [3, 7]
    exact = np.linalg.lstsq(xs[:, support], ys, rcond=None)[0]
    times = {"medida.fit": [], "ARDRegression": []}
    failures = []
    for k in range(a.repeats):
        sides = ["medida.fit", "ARDRegression"] if k % 2 == 0 else ["ARDRegression", "medida.fit"]
        for side in sides:
            if side == "medida.fit":
                t, f = timed(lambda: medida.fit(xs, ys, labels))
                found = sorted(labels.index(n) for n in f.terms)
                coefficients = np.array([f.coefficients[f.terms.index(f"x{j}")] for j in support]) if found == support else None
            else:
                # fit_intercept=False: the data have no intercept, as medida's library has none.
                t, f = timed(lambda: ARDRegression(threshold_lambda=1e4, fit_intercept=False).fit(xs, ys))
                found = sorted(int(j) for j in np.flatnonzero(np.abs(f.coef_) > 1e-8))
                coefficients = f.coef_[support] if found == support else None
            times[side].append(t)
            if coefficients is None:
                failures.append(f"{side}: found the columns {found}, not {support}")
            else:
                error = np.max(np.abs(coefficients - exact) / np.abs(exact))
                if error > 1e-6:
                    failures.append(f"{side}: coefficients {coefficients} against least squares {exact} ({error:.1e})")
    print(f"fit on {rows} × 25 rows, least squares on the support: {exact}")
    for side, values in times.items():
        print(f"  {side:<14} {summary(values)}")
    print("agreement: " + ("both find {x3, x7} within 1e-6 of least squares" if not failures else "FAILED"))

    print("\nmedida (criterion, median):")
    out = subprocess.run(
        ["cargo", "bench", "--bench", "regression", "--", "--warm-up-time", "1", "--measurement-time", "3"],
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
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
