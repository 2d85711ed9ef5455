"""medida: model-error discovery from Python.

Given an imperfect numerical model and sparse, noisy observations of the real system, medida
finds the missing or wrong terms of the model in closed form, with error bars, and checks that
the corrected model forecasts better. This module is a thin face on the Rust engine: the same
pipeline, regression and reports as the ``medida`` command line.

    import medida
    d = medida.run("ks-case01")          # a built-in case (see medida.cases())
    print(d.equation())                  # u_t error = -1.00000(±0.00002) u*u_x
    d.save("ks-case01.medida.json")
    medida.load("ks-case01.medida.json").equation()

Entry points: :func:`fit` (the regression on any matrix), :func:`run` (a case file, a built-in
case or a dict), :func:`discover` (your own observations held in numpy arrays), :func:`load`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _medida
from ._medida import MedidaError

__all__ = [
    "MedidaError",
    "Fit",
    "Discovery",
    "SavedModel",
    "fit",
    "run",
    "discover",
    "load",
    "cases",
    "__version__",
]

__version__: str = _medida.__version__

#: The version of the model files :meth:`Discovery.save` writes.
MODEL_FORMAT_VERSION = 1
_MODEL_FORMAT = "medida-model"

CaseLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]


class _Progress:
    """One status line on stderr, rewritten in place (terminals and Jupyter alike)."""

    def __init__(self, quiet: Optional[bool]) -> None:
        if quiet is None:
            # Shown in a terminal or a notebook; not in logs and pipes.
            interactive = getattr(sys.stderr, "isatty", lambda: False)()
            quiet = not (interactive or "ipykernel" in sys.modules)
        self.quiet = quiet
        self.start = time.monotonic()
        self.width = 0

    def __call__(self, stage: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.start
        line = f"medida {elapsed:7.1f} s  {stage}"
        pad = max(0, self.width - len(line))
        self.width = len(line)
        sys.stderr.write("\r" + line + " " * pad)
        sys.stderr.flush()

    def done(self) -> None:
        if not self.quiet and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _with_progress(call, quiet: Optional[bool]):
    progress = _Progress(quiet)
    try:
        return call(progress)
    finally:
        progress.done()


class Fit:
    """The regression on one matrix (see :func:`fit`)."""

    def __init__(self, native: "_medida.Fit") -> None:
        self._native = native

    @property
    def library(self) -> List[str]:
        """Every column's label, in the order of X's columns."""
        return self._native.library

    @property
    def terms(self) -> List[str]:
        """The retained terms."""
        return self._native.terms

    @property
    def coefficients(self) -> np.ndarray:
        """Coefficients of the retained terms (aligned with :attr:`terms`)."""
        return self._native.coefficients

    @property
    def std(self) -> np.ndarray:
        """Posterior standard deviations of :attr:`coefficients`."""
        return self._native.std

    @property
    def inclusion(self) -> np.ndarray:
        """Fraction of bootstrap resamples keeping each retained term."""
        return self._native.inclusion

    @property
    def library_coefficients(self) -> np.ndarray:
        """A coefficient per column of X (zero where pruned), as PySINDy's ``coef_``."""
        return self._native.library_coefficients

    @property
    def prune_alpha(self) -> float:
        """The dimensionless threshold used (chosen automatically unless given)."""
        return self._native.prune_alpha

    @property
    def noise_std(self) -> float:
        """Std of the target the model leaves unexplained."""
        return self._native.noise_std

    @property
    def held_out_explained(self) -> Optional[float]:
        """Fraction of the target explained on held-out row blocks."""
        return self._native.held_out_explained

    @property
    def unsupported(self) -> Optional[str]:
        """Why no term is supported by the data, when that is the answer."""
        return self._native.unsupported

    def equation(self, lhs: str = "y") -> str:
        """The discovered equation, e.g. ``u_t error = -1.00(±0.01) u*u_x``."""
        return self._native.equation(lhs)

    def summary(self, lhs: str = "y") -> str:
        """What ``medida fit`` prints."""
        return self._native.summary(lhs)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON report of ``medida fit --json``, as Python objects."""
        return json.loads(self._native.report_json())

    def __repr__(self) -> str:
        return f"<medida.Fit {self.equation()}>"


def fit(
    X: Any,
    y: Any,
    labels: Sequence[str],
    *,
    prune_alpha: Union[str, float] = "auto",
    method: str = "rvm",
    seed: int = 0,
) -> Fit:
    """The regression alone on a matrix, as ``medida fit`` runs it.

    Parameters
    ----------
    X : array (rows, columns)
        The library evaluated on the data, one column per candidate term.
    y : array (rows,)
        The target (e.g. the increments (analysis − forecast)/Δt).
    labels : sequence of str
        One name per column (``"u*u_x"``); each names one column.
    prune_alpha : "auto" or float
        ``"auto"`` chooses the threshold from the data (knee of the sweep, held-out test);
        a number prunes terms contributing less than std(y)/sqrt(prune_alpha).
    method : "rvm" or "lstsq"
    seed : int
        Seed of the bootstrap behind :attr:`Fit.inclusion`.

    Raises
    ------
    MedidaError (a ValueError)
        Shapes that disagree, duplicate labels, an ill-posed library, NaN in the data.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise MedidaError(f"medida.fit: X has shape {X.shape}; expected (rows, columns)")
    if y.ndim != 1:
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
        if y.ndim != 1:
            raise MedidaError(f"medida.fit: y has shape {y.shape}; expected (rows,)")
    if isinstance(prune_alpha, (int, float)) and not isinstance(prune_alpha, bool):
        prune_alpha = repr(float(prune_alpha))
    return Fit(_medida.fit(X, y, list(labels), str(prune_alpha), method, int(seed)))


class Discovery:
    """Everything one run found: the discovered and expected terms per component, the
    corrected model, the validation, the timings and the arrays behind the figures.

    :meth:`to_dict` gives exactly the JSON report of ``medida run --json``.
    """

    def __init__(self, native: "_medida.Discovery") -> None:
        self._native = native
        self._report: Optional[Dict[str, Any]] = None
        self._arrays: Optional[Dict[str, Any]] = None

    # The report ----------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The JSON report of ``medida run --json``, as Python objects."""
        return json.loads(self._native.report_json())

    def _r(self) -> Dict[str, Any]:
        if self._report is None:
            self._report = self.to_dict()
        return self._report

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def system(self) -> str:
        """``"ks"`` or ``"qg"``."""
        return self._native.system

    @property
    def components(self) -> List[str]:
        """The regressed components (``u``; ``q1``, ``q2``)."""
        return self._native.components

    @property
    def discovered(self) -> List[Dict[str, Any]]:
        """The discovered terms: ``term``, ``coefficient``, ``std``, ``inclusion`` (and
        ``layer`` for multi-layer systems)."""
        return self._r()["discovered"]

    @property
    def expected(self) -> Optional[List[Dict[str, Any]]]:
        """truth − model term by term (twin experiments), else None."""
        return self._r().get("expected")

    @property
    def corrected_model(self) -> Optional[List[Dict[str, Any]]]:
        """The model plus the discovered terms."""
        return self._r().get("corrected_model")

    @property
    def validation(self) -> Optional[Dict[str, Any]]:
        """Held-out explained fractions and, for data, the forecast against later snapshots."""
        return self._r().get("validation")

    @property
    def forecast_skill(self) -> Optional[Dict[str, Any]]:
        """Imperfect against corrected model forecasts (twin experiments)."""
        return self._r().get("forecast_skill")

    @property
    def timings(self) -> Dict[str, float]:
        """Seconds per stage."""
        return self._r().get("seconds", {})

    @property
    def warnings(self) -> List[str]:
        """What the run's own diagnostics say against trusting it."""
        return self._r()["warnings"]

    @property
    def equations(self) -> List[str]:
        """One printed equation per component."""
        return self._native.equations

    def equation(self) -> str:
        """The discovered equation(s), one line per component, as ``medida run`` prints."""
        return "\n".join(self._native.equations)

    def summary(self) -> str:
        """What ``medida run`` prints."""
        return self._native.summary()

    def outcome(self) -> Optional[bool]:
        """Twin experiments: whether exactly the expected terms were found."""
        outcome = self._native.outcome()
        return None if outcome is None else outcome[0]

    # The arrays ----------------------------------------------------------------------
    @property
    def arrays(self) -> Dict[str, Any]:
        """The arrays behind the figures: ``x`` (and ``y``), the sample state(s), the
        ``increment`` and its ``reconstruction`` by the discovered terms, the threshold
        ``sweep`` per component, and the forecast errors."""
        if self._arrays is None:
            self._arrays = self._native.arrays()
        return self._arrays

    @property
    def x(self) -> np.ndarray:
        return self.arrays["x"]

    @property
    def increment(self) -> np.ndarray:
        """The first pair's increment (analysis − forecast)/Δt: (points,) or (layers, ny, nx)."""
        return self.arrays["increment"]

    @property
    def reconstruction(self) -> np.ndarray:
        """The increment as the discovered terms give it."""
        return self.arrays["reconstruction"]

    @property
    def sweep(self) -> List[Dict[str, Any]]:
        """Per component: ``prune_alpha``, ``terms``, ``log_evidence``, ``noise_std`` along the
        threshold sweep, and the ``chosen`` threshold."""
        return self.arrays["sweep"]

    def plot(self, folder: Union[str, "os.PathLike[str]"]) -> List[str]:
        """Writes the figures of ``medida run --plots`` (PNG and SVG); returns their paths."""
        return [str(p) for p in self._native.plot(os.fspath(folder))]

    # Saving --------------------------------------------------------------------------
    def model(self) -> Dict[str, Any]:
        """The versioned model file's content (see :meth:`save`)."""
        return {
            "format": _MODEL_FORMAT,
            "version": MODEL_FORMAT_VERSION,
            "medida": __version__,
            "name": self.name,
            "system": self.system,
            "components": json.loads(self._native.model_json()),
            "case": json.loads(self._native.case_json()),
            "report": self.to_dict(),
        }

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the discovered model to a versioned JSON file: per component the library,
        every coefficient and std, the corrected model and the printed equation; the case as
        run; and the report. :func:`load` reads it back."""
        text = json.dumps(self.model(), indent=2)
        path = os.fspath(path)
        partial = path + ".partial"
        with open(partial, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(partial, path)

    def to_dataset(self):
        """The arrays as an :class:`xarray.Dataset` (requires xarray): the sample state, the
        increment and its reconstruction with their coordinates (``x``; ``lev``, ``y``, ``x``
        for QG, pyqg's naming) and the report as attributes."""
        try:
            import xarray as xr
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Discovery.to_dataset needs xarray: pip install xarray") from e
        a = self.arrays
        attrs = {
            "name": self.name,
            "system": self.system,
            "equation": self.equation(),
            "medida": __version__,
        }
        if "sample_states" in a:  # a line: one field along x
            coords = {"x": ("x", a["x"], {"long_name": "x", "units": "nondimensional"})}
            data = {
                self.components[0]: (("time", "x"), a["sample_states"], {"long_name": "the truth at the sample times"}),
                "increment": ("x", a["increment"], {"long_name": "(analysis - forecast)/dt", "units": "u per time"}),
                "reconstruction": ("x", a["reconstruction"], {"long_name": "discovered terms"}),
            }
            coords["time"] = ("time", a["sample_times"], {"units": "nondimensional time"})
        else:
            layers = np.arange(1, a["state"].shape[0] + 1)
            cut = a["edge_cut"]

            def full(inner):
                # The regression sees the grid inside the edge cut: NaN outside it.
                out = np.full(a["state"].shape, np.nan)
                out[:, cut : cut + inner.shape[1], cut : cut + inner.shape[2]] = inner
                return out

            coords = {
                "lev": ("lev", layers, {"long_name": "layer"}),
                "y": ("y", a["y"], {"long_name": "y", "units": "nondimensional"}),
                "x": ("x", a["x"], {"long_name": "x", "units": "nondimensional"}),
            }
            data = {
                "q": (("lev", "y", "x"), a["state"], {"long_name": a["state_label"]}),
                "increment": (("lev", "y", "x"), full(a["increment"]), {"long_name": "(analysis - forecast)/dt of q"}),
                "reconstruction": (("lev", "y", "x"), full(a["reconstruction"]), {"long_name": "discovered terms"}),
            }
            attrs["edge_cut"] = a["edge_cut"]
        return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)

    def __repr__(self) -> str:
        return f"<medida.Discovery {self.name}: {'; '.join(self.equations)}>"


class SavedModel:
    """A model file read back by :func:`load`: the discovered terms, the corrected model,
    the case that made it (``medida.run(model.case)`` reruns it) and its report."""

    def __init__(self, content: Dict[str, Any], path: str) -> None:
        self.path = path
        self.content = content
        self.name: str = content["name"]
        self.system: str = content["system"]
        self.components: List[Dict[str, Any]] = content["components"]
        #: The case as run, in the case file's shape. From :func:`discover` its
        #: ``observations.file`` is ``"<the arrays given to medida.discover>"``: give the
        #: arrays again (or write them to a file and point the key at it) to rerun.
        self.case: Dict[str, Any] = content["case"]
        self.report: Dict[str, Any] = content["report"]

    @property
    def terms(self) -> List[List[str]]:
        """The retained terms per component."""
        return [c["retained"] for c in self.components]

    def coefficients(self, component: int = 0) -> Dict[str, float]:
        """A component's retained terms and coefficients."""
        c = self.components[component]
        return {t: c["coefficients"][c["library"].index(t)] for t in c["retained"]}

    def equation(self) -> str:
        """The printed equation(s), rebuilt from the saved coefficients and stds."""
        lines = []
        for c in self.components:
            index = [c["library"].index(t) for t in c["retained"]]
            lines.append(
                _medida.format_equation(
                    c["lhs"],
                    c["retained"],
                    [c["coefficients"][i] for i in index],
                    [c["std"][i] for i in index],
                )
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<medida.SavedModel {self.name} from {self.path}>"


def load(path: Union[str, "os.PathLike[str]"]) -> SavedModel:
    """Reads a model file written by :meth:`Discovery.save`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise MedidaError(f"{path}: not a readable medida model file ({e})") from e
    if not isinstance(content, dict) or content.get("format") != _MODEL_FORMAT:
        raise MedidaError(f"{path}: not a medida model file (no \"format\": \"{_MODEL_FORMAT}\")")
    version = content.get("version")
    if not isinstance(version, int) or version > MODEL_FORMAT_VERSION:
        raise MedidaError(
            f"{path}: model file version {version!r}; this medida ({__version__}) reads up to {MODEL_FORMAT_VERSION}"
        )
    for key in ("name", "system", "components", "case", "report"):
        if key not in content:
            raise MedidaError(f"{path}: the model file has no `{key}`")
    return SavedModel(content, path)


def cases() -> Dict[str, str]:
    """The built-in cases: name → path under the repository's data/."""
    return dict(_medida.cases())


def run(case: CaseLike, *, quiet: Optional[bool] = None) -> Discovery:
    """Runs a discovery.

    Parameters
    ----------
    case : path, built-in name or dict
        A case file (``"my-case.toml"``), a built-in case (``"ks-case01"``, see
        :func:`cases`), or a dict in the case file's shape, e.g.
        ``{"system": {"kind": "ks"}, "model": {"rhs": {"u_xx": -1, "u_xxxx": -1}}}``.
    quiet : bool or None
        True: no progress line on stderr; False: always one; None: one in a terminal or a
        notebook.

    The run releases the GIL; Ctrl-C stops it at the next stage (KeyboardInterrupt).
    """
    if isinstance(case, Mapping):
        case = dict(case)
    return Discovery(_with_progress(lambda p: _medida.run(case, p), quiet))


def discover(
    t: Any,
    u: Any = None,
    *,
    system: str = "ks",
    model: Optional[Mapping[str, Any]] = None,
    grid: Optional[Mapping[str, Any]] = None,
    noise: Union[str, float] = "auto",
    pairs: int = 0,
    fields: Optional[Mapping[str, Any]] = None,
    x: Any = None,
    y: Any = None,
    name: str = "arrays",
    seed: int = 7,
    quiet: Optional[bool] = None,
    **sections: Mapping[str, Any],
) -> Discovery:
    """Discovery on observations held in numpy arrays (the "your own data" path, no file).

    Parameters
    ----------
    t : array (n,)
        Snapshot times, strictly increasing; pairs are snapshots one model step apart.
    u : array
        The observed field, NaN where a point was not observed: (n, points) for KS; for QG
        (n, 2, ny, nx), split into ``psi1``, ``psi2`` (or give ``fields``).
    system : "ks" or "qg"
    model : dict
        The ``[model]`` section: the imperfect model (e.g. ``{"rhs": {"u_xx": -1, "u_xxxx":
        -1}, "dt": 0.02}``).
    grid : dict
        Other ``[system]`` keys (``n``, ``l``; ``nx``, ``ny``, ...).
    noise : "auto" or float
        Observation-noise std relative to the field's std; ``"auto"`` estimates it.
    pairs : int
        0: every pair the data hold; n: n pairs spread over them.
    fields : dict of arrays
        Fields by name instead of ``u`` (``{"psi1": ..., "psi2": ...}``).
    x, y : arrays
        Grid coordinates, checked against the ``[system]`` grid.
    quiet : bool or None
        As for :func:`run`.
    **sections : dicts
        Any other case-file sections (``assimilation``, ``library``, ``regression``,
        ``interpolation``).
    """
    case: Dict[str, Any] = {"name": name, "seed": int(seed)}
    case["system"] = {"kind": system, **(dict(grid) if grid else {})}
    if model:
        case["model"] = dict(model)
    observations = dict(sections.pop("observations", {}))
    observations.setdefault("noise", noise)
    observations.setdefault("pairs", int(pairs))
    case["observations"] = observations
    for key, value in sections.items():
        case[key] = dict(value)
    arrays = [("t", np.ascontiguousarray(t, dtype=np.float64))]
    for key, value in (fields or {}).items():
        arrays.append((key, np.ascontiguousarray(value, dtype=np.float64)))
    for key, value in (("x", x), ("y", y)):
        if value is not None:
            arrays.append((key, np.ascontiguousarray(value, dtype=np.float64)))
    if u is None and not fields:
        raise MedidaError("medida.discover: give the observed field `u` (or `fields`)")
    field = None if u is None else np.ascontiguousarray(u, dtype=np.float64)
    return Discovery(_with_progress(lambda p: _medida.discover(case, field, arrays, p), quiet))
