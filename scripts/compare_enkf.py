"""The analysis step at N = 1024, every point observed, r = 0.01: medida's stochastic EnKF
and ETKF (examples/analysis.rs) next to numpy's ensemble-space EnKF and the authors' dense
formulation, on the same forecast ensembles, timed in alternating rounds (min / median).

Agreement (the run stops when a check fails):
  - the stochastic EnKF's analysis mean against the exact Kalman update with the ensemble's
    sample covariance, x̄ + P (P + rI)⁻¹ (y − x̄): medida centres its perturbed observations,
    so its mean is that update exactly, whatever the draws (numpy's EnKF is checked the same
    way, its perturbations centred too);
  - medida's ETKF, a deterministic filter, against numpy's symmetric square-root ETKF, every
    member.

    /tmp/bench-venv/bin/python scripts/compare_enkf.py [--members 100,1000,10240] [--rounds 5]
"""
import argparse
import os
import tempfile
import time

import numpy as np

from sides import agree, alternate, cargo_example, ms, timed

N = 1024
R = 0.01


def kalman_mean(E, y):
    """x̄ + P Hᵀ (H P Hᵀ + R)⁻¹ (y − H x̄) with P the sample covariance (observation space)."""
    m = E.shape[1]
    x = E.mean(axis=1)
    A = E - x[:, None]
    P = A @ A.T / (m - 1)
    return x + P @ np.linalg.solve(P + R * np.eye(N), y - x)


def numpy_enkf(E, y, rng):
    """Ensemble-space EnKF with centred perturbed observations (below 10,240 members; the
    observation-space form above)."""
    m = E.shape[1]
    x = E.mean(axis=1)
    A = E - x[:, None]
    S = A / np.sqrt(R)
    eps = rng.standard_normal((N, m))
    eps -= eps.mean(axis=1, keepdims=True)
    D = (y[:, None] - E) / np.sqrt(R) + eps
    if m <= N:
        W = np.linalg.solve(S.T @ S + (m - 1) * np.eye(m), S.T @ D)
        return E + A @ W
    # (A Sᵀ) first: N·p·m, not the m × m product.
    return E + (A @ S.T) @ np.linalg.solve(S @ S.T + (m - 1) * np.eye(N), D)


def dense_enkf(E, y, rng):
    """The authors' form: P = A Aᵀ/(m−1), K = P (P + R)⁻¹, perturbed observations."""
    m = E.shape[1]
    A = E - E.mean(axis=1, keepdims=True)
    P = A @ A.T / (m - 1)
    K = P @ np.linalg.inv(P + R * np.eye(N))
    D = y[:, None] + np.sqrt(R) * rng.standard_normal((N, m))
    return E + K @ (D - E)


def numpy_etkf(E, y):
    m = E.shape[1]
    x = E.mean(axis=1)
    A = E - x[:, None]
    S = A / np.sqrt(R)
    values, vectors = np.linalg.eigh(S.T @ S)
    d = np.maximum(values, 0) + (m - 1)
    w = vectors @ ((vectors.T @ (S.T @ (y - x) / np.sqrt(R))) / d)
    T = (vectors * np.sqrt((m - 1) / d)) @ vectors.T
    return (x + A @ w)[:, None] + A @ T


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", default="100,1000,10240")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(N) * 0.1)
    folder = tempfile.mkdtemp()
    rows = []
    for m in map(int, args.members.split(",")):
        E = x[:, None] + 0.1 * rng.standard_normal((N, m))
        y = x + 0.05
        e_path, y_path = os.path.join(folder, "E.npy"), os.path.join(folder, "y.npy")
        out = os.path.join(folder, "Ea.npy")
        np.save(e_path, E)
        np.save(y_path, y)
        exact = kalman_mean(E, y)
        scale = np.abs(exact - x).max()
        cargo_example("analysis", e_path, y_path, out, "--filter", "enkf")
        ours = np.load(out)
        agree(f"EnKF mean, {m} members, medida vs exact Kalman (max rel. to the update)",
              np.abs(ours.mean(axis=1) - exact).max() / scale, 1e-9)
        agree(f"EnKF mean, {m} members, numpy vs exact Kalman",
              np.abs(numpy_enkf(E, y, rng).mean(axis=1) - exact).max() / scale, 1e-9)
        if m <= 1000:
            cargo_example("analysis", e_path, y_path, out, "--filter", "etkf")
            reference = numpy_etkf(E, y)
            agree(f"ETKF ensemble, {m} members, medida vs numpy (max rel.)",
                  np.abs(np.load(out) - reference).max() / np.abs(reference).max(), 1e-10)

        def medida_side(filter_name, repeats):
            def side():
                text = cargo_example("analysis", e_path, y_path, out, "--filter", filter_name,
                                     "--repeats", repeats)
                # The first analysis of a process pays for its memory pages: not counted.
                times = [float(l.split("=")[1]) / 1e3 for l in text.split() if l.startswith("analysis_ms=")]
                return times[1:]
            return side

        repeats = 6 if m <= 1000 else 3
        sides = {
            "medida enkf": medida_side("enkf", repeats),
            "numpy enkf": timed(lambda: numpy_enkf(E, y, rng), 3 if m <= 1000 else 1),
        }
        if m <= 1000:
            sides["medida etkf"] = medida_side("etkf", repeats)
            sides["numpy etkf"] = timed(lambda: numpy_etkf(E, y), 3)
            sides["dense numpy (authors)"] = timed(lambda: dense_enkf(E, y, rng), 1)
        result = alternate(sides, args.rounds)
        for name, pair in result.items():
            rows.append((m, name, pair))
    print("\n| members | side | min / median ms |")
    print("|---|---|---|")
    for m, name, pair in rows:
        print(f"| {m:,} | {name} | {ms(pair)} |")

if __name__ == "__main__":
    main()
