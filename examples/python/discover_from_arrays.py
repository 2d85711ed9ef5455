"""Discovery from arrays held in memory, and a figure of what was found.

The observations here are those `medida simulate ks-case01-noise1` writes (KS case 1, the
model lacks advection, 1 % noise), loaded with numpy as a user's own data would be; any
(t, u) with NaN where unobserved works the same way.

    pip install ./python matplotlib
    python examples/python/discover_from_arrays.py
"""

from pathlib import Path

import numpy as np

import medida

data = np.load(Path(__file__).resolve().parents[2] / "data" / "files" / "ks-case01-noise1.npz")
t, u, x = data["t"], data["u"], data["x"]
u[:, 1::4] = np.nan  # three sensors in four: the gaps are filled by the interpolator

d = medida.discover(
    t,
    u,
    x=x,
    noise=0.01,  # with gaps this regular, "auto" has too few observed neighbours to estimate it
    model={"rhs": {"u_xx": -1, "u_xxxx": -1}, "scheme": "cnab2", "dt": 2e-2},
)
print(d.equation())
for w in d.warnings:
    print("warning:", w)
print(f"held-out explained: {d.validation['held_out_explained']}")
d.save("ks-from-arrays.medida.json")
print("saved; reloaded:", medida.load("ks-from-arrays.medida.json").equation())

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    raise SystemExit("(pip install matplotlib for the figure)")

fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(d.x, d.increment, lw=1, label="increment (analysis − forecast)/Δt")
ax.plot(d.x, d.reconstruction, lw=1, ls="--", label="discovered terms")
ax.set_xlabel("x")
ax.set_title(d.equation(), fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("ks-from-arrays.png", dpi=120)
print("wrote ks-from-arrays.png")
