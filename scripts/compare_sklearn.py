"""Fit the same matrix with scikit-learn's ARDRegression and with `medida fit`, side by side.

Run by hand (never by CI), from the repository root, in a scratch venv:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scikit-learn
    cargo build --release
    /tmp/venv/bin/python scripts/compare_sklearn.py data/reference-ks/ks-case10-exact-obs.npz
"""
import json
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import ARDRegression

path = sys.argv[1] if len(sys.argv) > 1 else "data/reference-ks/ks-case01-exact-obs.npz"
data = np.load(path)
X = data["XX"].astype(np.float64)
y = data["yy"].ravel()
labels = [str(l) for l in data["X_labels"]]

# Same preprocessing as medida: centred columns scaled to unit std, centred target.
scale = X.std(axis=0)
ard = ARDRegression(threshold_lambda=1e2, fit_intercept=True, max_iter=3000, tol=1e-6)
ard.fit(X / scale, y)
sk = ard.coef_ / scale

with tempfile.NamedTemporaryFile(suffix=".json") as out:
    subprocess.run(
        ["target/release/medida", "fit", path, "--x", "XX", "--y", "yy", "--labels", "X_labels",
         "--prune-alpha", "1e2", "--json", out.name],
        check=True, stdout=subprocess.DEVNULL)
    ours = {t["term"]: t["coefficient"] for t in json.load(open(out.name))["discovered"]}

print(f"{'term':<14} {'sklearn ARD':>14} {'medida rvm':>14}")
for j, name in enumerate(labels):
    if abs(sk[j]) > 0 or name in ours:
        print(f"{name:<14} {sk[j]:>14.6f} {ours.get(name, 0.0):>14.6f}")
