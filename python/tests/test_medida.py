"""Tests of the built wheel: the Python face gives the command line's answers.

The command line (`MEDIDA_BIN`, default target/release/medida, built by `cargo test
--release`) is the independent reference for the numbers; the authors' regression matrices
in data/reference-ks give the expected terms.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import medida

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def cli() -> str:
    binary = os.environ.get("MEDIDA_BIN", str(ROOT / "target" / "release" / "medida"))
    if not Path(binary).exists():
        pytest.fail(f"the medida binary {binary} is missing: run `cargo build --release` (or set MEDIDA_BIN)")
    return binary


def cli_json(args, tmp_path) -> dict:
    out = tmp_path / "report.json"
    subprocess.run([cli(), *args, "--json", str(out)], check=True, capture_output=True)
    return json.loads(out.read_text())


def assert_same(a, b, path="report", skip=("seconds",)):
    """The same JSON structure, numbers within 1e-12 (relative), names equal."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        keys = set(a) - set(skip)
        assert keys == set(b) - set(skip), f"{path}: keys {sorted(keys ^ (set(b) - set(skip)))}"
        for k in keys:
            assert_same(a[k], b[k], f"{path}.{k}", skip)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]", skip)
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, f"{path}: {a} vs {b}"
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300), f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def reference(name):
    z = np.load(DATA / "reference-ks" / name)
    return z["XX"], z["yy"].ravel(), [str(s) for s in z["X_labels"].ravel()]


def test_fit_on_the_authors_matrix_gives_the_cli_numbers(tmp_path):
    X, y, labels = reference("ks-case10-exact-obs.npz")
    f = medida.fit(X, y, labels)
    # KS case 10: all three coefficients doubled, so the error is u*u_x, u_xx, u_xxxx.
    assert sorted(f.terms) == sorted(["uu_{x}", "u_{xx}", "u_{xxxx}"])
    np.testing.assert_allclose(
        f.coefficients, np.linalg.lstsq(X[:, [labels.index(t) for t in f.terms]], y, rcond=None)[0], rtol=1e-2
    )
    assert np.all(f.inclusion >= 0.9)
    assert f.library_coefficients.shape == (len(labels),)
    np.savez(tmp_path / "m.npz", X=X, y=y, labels=np.array(labels))
    report = cli_json(["fit", str(tmp_path / "m.npz")], tmp_path)
    assert_same(f.to_dict(), report, skip=("seconds", "name"))
    assert f.equation("u_t error").startswith("u_t error = ")
    printed = subprocess.run([cli(), "fit", str(tmp_path / "m.npz")], check=True, capture_output=True, text=True)
    assert printed.stdout == f.summary()


def test_run_matches_the_cli_report(tmp_path):
    d = medida.run("ks-case01", quiet=True)
    assert_same(d.to_dict(), cli_json(["run", "ks-case01", "--quiet"], tmp_path))
    assert d.outcome() is True
    assert d.equation().startswith("u_t error = -1.0")
    a = d.arrays
    assert a["increment"].shape == a["reconstruction"].shape == a["x"].shape
    # The discovered terms reproduce the increment of exact pairs (to the increment's own
    # O(Δt) as a difference quotient: 0.25 % measured).
    assert np.linalg.norm(a["increment"] - a["reconstruction"]) < 1e-2 * np.linalg.norm(a["increment"])
    assert set(d.timings) >= {"truth", "regression"}
    assert d.sweep[0]["prune_alpha"].ndim == 1


def test_a_case_dict_is_the_case_file(tmp_path):
    text = (DATA / "ks" / "ks-case01.toml").read_text()
    import tomllib  # Python ≥ 3.11, tests only

    as_dict = tomllib.loads(text)
    assert_same(medida.run(as_dict, quiet=True).to_dict(), medida.run("ks-case01", quiet=True).to_dict())


def test_discover_on_arrays_gives_the_file_answer():
    z = np.load(DATA / "files" / "ks-case01-noise1.npz")
    from_file = medida.run("ks-case01-file", quiet=True).to_dict()
    from_arrays = medida.discover(
        z["t"],
        z["u"],
        x=z["x"],
        model={"rhs": {"u_xx": -1, "u_xxxx": -1}, "scheme": "cnab2", "dt": 2e-2},
        name="ks-case01-file",
        quiet=True,
    ).to_dict()
    assert from_arrays["observations"]["file"] == "the arrays given to medida.discover"
    from_arrays["observations"]["file"] = from_file["observations"]["file"]
    assert_same(from_arrays, from_file)
    assert [t["term"] for t in from_arrays["discovered"]] == ["u*u_x"]


def test_a_model_saved_from_arrays_does_not_rerun_as_a_twin(tmp_path):
    z = np.load(DATA / "files" / "ks-case01-noise1.npz")
    model = {"rhs": {"u_xx": -1, "u_xxxx": -1}, "scheme": "cnab2", "dt": 2e-2}
    medida.discover(z["t"], z["u"], model=model, pairs=3, quiet=True).save(tmp_path / "m.json")
    case = medida.load(tmp_path / "m.json").case
    with pytest.raises(medida.MedidaError, match="no such observation file"):
        medida.run(case, quiet=True)


def test_discover_with_unobserved_points_is_the_file_path(tmp_path):
    """NaN where not observed: the same answer as the same arrays written to a file."""
    z = np.load(DATA / "files" / "ks-case01-noise1.npz")
    u = z["u"].copy()
    u[:, ::3] = np.nan
    model = {"rhs": {"u_xx": -1, "u_xxxx": -1}, "scheme": "cnab2", "dt": 2e-2}
    np.savez(tmp_path / "obs.npz", t=z["t"], u=u)
    (tmp_path / "case.toml").write_text(
        textwrap.dedent(
            """
            name = "gappy"
            [model]
            rhs = { "u_xx" = -1, "u_xxxx" = -1 }
            scheme = "cnab2"
            dt = 2e-2
            [observations]
            file = "obs.npz"
            noise = 0.01
            pairs = 5
            """
        )
    )
    a = medida.discover(z["t"], u, model=model, noise=0.01, pairs=5, name="gappy", quiet=True).to_dict()
    b = medida.run(tmp_path / "case.toml", quiet=True).to_dict()
    a["observations"]["file"] = b["observations"]["file"]
    assert_same(a, b)


def test_save_and_load_round_trip(tmp_path):
    d = medida.run("ks-case10", quiet=True)
    d.save(tmp_path / "model.json")
    m = medida.load(tmp_path / "model.json")
    assert m.equation() == d.equation()
    assert m.terms == [[t["term"] for t in d.discovered]]
    assert set(m.coefficients()) == {"u*u_x", "u_xx", "u_xxxx"}
    content = json.loads((tmp_path / "model.json").read_text())
    assert content["format"] == "medida-model" and content["version"] == 1
    # The saved case reruns to the same model.
    assert medida.run(m.case, quiet=True).equation() == d.equation()


def test_bad_inputs_raise_with_medidas_message(tmp_path):
    X, y, labels = reference("ks-case01-exact-obs.npz")
    with pytest.raises(ValueError, match="labels for"):
        medida.fit(X, y, labels[:-1])
    with pytest.raises(medida.MedidaError, match="names two columns"):
        medida.fit(X[:, :2], y, [labels[0], labels[0]])
    with pytest.raises(medida.MedidaError, match="rows but y has"):
        medida.fit(X[:10], y, labels)
    with pytest.raises(medida.MedidaError, match="prune_alpha"):
        medida.fit(X, y, labels, prune_alpha="often")
    with pytest.raises(medida.MedidaError, match="neither a file nor a built-in case"):
        medida.run("no-such-case")
    with pytest.raises(medida.MedidaError, match="unknown field `pair`"):
        medida.run({"observations": {"pair": 3}})
    with pytest.raises(medida.MedidaError, match="strictly increasing"):
        medida.discover(np.array([0.0, 0.0, 1.0]), np.zeros((3, 1024)), quiet=True)
    with pytest.raises(medida.MedidaError, match="shape"):
        medida.discover(np.arange(3.0), np.zeros((3, 100)), quiet=True)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(medida.MedidaError, match="not a medida model file"):
        medida.load(tmp_path / "bad.json")


def test_runs_release_the_gil():
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=count)
    thread.start()
    started = time.monotonic()
    medida.run("ks-case01", quiet=True)
    finished = time.monotonic()
    stop.set()
    thread.join()
    during = [t for t in ticks if started < t < finished]
    # A held GIL would leave the counter at a tick or two for the whole run.
    assert len(during) > 0.5 * (finished - started) / 0.01 * 0.5, (len(during), finished - started)


def test_ctrl_c_stops_a_run():
    """SIGINT during the ensemble analyses (a stage per pair) ends the run with
    KeyboardInterrupt within a pair or two, not at its end."""
    script = textwrap.dedent(
        """
        import medida, signal, time
        # Python keeps SIGINT ignored when it starts ignored (a background job of a
        # non-interactive shell): restore the KeyboardInterrupt handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        case = {
            "name": "long",
            "model": {"rhs": {"u_xx": -1, "u_xxxx": -1}, "scheme": "cnab2", "dt": 2e-2},
            "observations": {"pairs": 3000, "noise": 0.01},
            "assimilation": {"method": "etkf", "members": 200},
        }
        print("started", flush=True)
        start = time.monotonic()
        try:
            medida.run(case, quiet=True)
            print("finished", time.monotonic() - start)
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    time.sleep(10.0)
    sent = time.monotonic()
    p.send_signal(subprocess.signal.SIGINT)
    out, _ = p.communicate(timeout=300)
    assert out.strip() == "interrupted", out
    assert time.monotonic() - sent < 30


def test_progress_is_shown_and_silenced(capfd):
    medida.run("ks-case01", quiet=True)
    assert capfd.readouterr().err == ""
    medida.run("ks-case01")  # not a terminal: quiet unless asked
    assert capfd.readouterr().err == ""
    medida.run("ks-case01", quiet=False)
    err = capfd.readouterr().err
    assert "truth run" in err and "regression" in err


def test_qg_dataset():
    xr = pytest.importorskip("xarray")
    d = medida.run("qg-case1001", quiet=True)
    ds = d.to_dataset()
    assert isinstance(ds, xr.Dataset)
    assert ds["increment"].dims == ("lev", "y", "x")
    assert ds.sizes["lev"] == 2
    cut = ds.attrs["edge_cut"]
    inner = ds["increment"].values[:, cut:-cut, cut:-cut]
    np.testing.assert_array_equal(inner, d.increment)
    assert np.isnan(ds["increment"].values[:, :cut]).all()
    assert ds.attrs["equation"] == d.equation()
    assert len(d.equations) == 2


def test_qg_discover_splits_u_into_the_layers(tmp_path):
    """A small QG twin written by `medida simulate`, then the same arrays given to discover
    as u of shape (times, 2, ny, nx): the file's answer to 1e-12."""
    grid = "[system]\nkind = \"qg\"\nnx = 32\nny = 32\nlx = 20.0\nly = 20.0\n"
    model = "[model]\nrelaxation = 0.11\nforcing = 0.11\n"
    rest = "[library]\nedge_cut = 4\n"
    (tmp_path / "twin.toml").write_text(
        grid + model + "[truth]\nspinup = 5.0\n[observations]\npairs = 4\nnoise = 0.001\n" + rest
    )
    subprocess.run([cli(), "simulate", str(tmp_path / "twin.toml"), "--out", str(tmp_path / "qg.npz"), "--quiet"], check=True)
    (tmp_path / "file.toml").write_text(
        "name = \"small-qg\"\n" + grid + model + "[observations]\nfile = \"qg.npz\"\nnoise = 0.001\npairs = 0\n" + rest
    )
    from_file = medida.run(tmp_path / "file.toml", quiet=True).to_dict()
    z = np.load(tmp_path / "qg.npz")
    d = medida.discover(
        z["t"],
        np.stack([z["psi1"], z["psi2"]], axis=1),
        system="qg",
        grid={"nx": 32, "ny": 32, "lx": 20.0, "ly": 20.0},
        model={"relaxation": 0.11, "forcing": 0.11},
        noise=0.001,
        library={"edge_cut": 4},
        name="small-qg",
        quiet=True,
    )
    from_arrays = d.to_dict()
    from_arrays["observations"]["file"] = from_file["observations"]["file"]
    assert_same(from_arrays, from_file)
    assert len(d.equations) == 2
    with pytest.raises(medida.MedidaError, match="observes 2 fields"):
        medida.discover(
            z["t"], z["psi1"], system="qg", grid={"nx": 32, "ny": 32, "lx": 20.0, "ly": 20.0}, library={"edge_cut": 4}, quiet=True
        )
