//! The native half of the `medida` Python package: the engine's own functions behind a thin
//! PyO3 face. Everything here calls the one pipeline and the one regression that the CLI
//! calls; the Python half (`medida/__init__.py`) adds the Pythonic wrappers (saving,
//! xarray, progress display).

use medida::observe::file::Arrays;
use medida::output::report::{summary, Report};
use medida::pipeline::discovery::Sample;
use medida::regression::rvm::RvmFit;
use medida::regression::MatrixFit;
use medida::{Case, MedidaError as EngineError};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Mutex;

pyo3::create_exception!(
    medida,
    MedidaError,
    PyValueError,
    "An input medida refuses (a bad case key, file or array), with medida's own message."
);

fn error(e: EngineError) -> PyErr {
    MedidaError::new_err(e.to_string())
}

/// A Python dict in the TOML's shape, through JSON, to TOML text.
fn toml_of(py: Python<'_>, case: &Bound<'_, PyAny>) -> PyResult<String> {
    let json: String = py
        .import("json")?
        .call_method1("dumps", (case,))?
        .extract()?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| MedidaError::new_err(format!("case dict: {e}")))?;
    let table: toml::Table = serde_json::from_value(value).map_err(|e| {
        MedidaError::new_err(format!(
            "case dict: {e} (sections are dicts of numbers, strings, lists and dicts; None has no TOML form)"
        ))
    })?;
    toml::to_string(&table).map_err(|e| MedidaError::new_err(format!("case dict: {e}")))
}

/// The case as `Discovery.save` keeps it: its TOML table as JSON.
fn case_table(text: &str) -> serde_json::Value {
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    serde_json::to_value(table).unwrap_or_default()
}

/// `values` (one per library column) at the retained columns, in the library's order.
fn at_retained(fit: &RvmFit, values: impl Fn(usize) -> f64) -> Vec<f64> {
    fit.retained.iter().map(|&i| values(i)).collect()
}

/// `values` on the whole library, zero where a column was pruned.
fn on_library(fit: &RvmFit, values: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; fit.names.len()];
    for &i in &fit.retained {
        out[i] = values[i];
    }
    out
}

/// The regression alone on a matrix: see `medida.fit`.
#[pyclass(name = "Fit", module = "medida._medida", frozen)]
struct PyFit {
    fit: MatrixFit,
    name: String,
}

#[pymethods]
impl PyFit {
    /// Every column's label, in the order of X's columns.
    #[getter]
    fn library(&self) -> Vec<String> {
        self.fit.selection.fit.names.clone()
    }

    /// The retained terms, in the library's order.
    #[getter]
    fn terms(&self) -> Vec<String> {
        let f = &self.fit.selection.fit;
        f.retained.iter().map(|&i| f.names[i].clone()).collect()
    }

    /// The retained terms' coefficients (aligned with `terms`).
    #[getter]
    fn coefficients<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let f = &self.fit.selection.fit;
        at_retained(f, |i| f.coefficients[i]).into_pyarray(py)
    }

    /// Posterior standard deviations of the coefficients (aligned with `terms`).
    #[getter]
    fn std<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let f = &self.fit.selection.fit;
        at_retained(f, |i| f.std[i]).into_pyarray(py)
    }

    /// Fraction of bootstrap resamples of the rows that keep each term (aligned with `terms`);
    /// NaN where the data were too few to resample.
    #[getter]
    fn inclusion<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let inclusion = self.fit.selection.stability.inclusion.as_deref();
        at_retained(&self.fit.selection.fit, |i| {
            inclusion.map_or(f64::NAN, |x| x[i])
        })
        .into_pyarray(py)
    }

    /// Every column's coefficient (zero where pruned), aligned with `library`.
    #[getter]
    fn library_coefficients<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let f = &self.fit.selection.fit;
        on_library(f, &f.coefficients).into_pyarray(py)
    }

    /// The (dimensionless) threshold the fit used.
    #[getter]
    fn prune_alpha(&self) -> f64 {
        self.fit.selection.prune_alpha
    }

    /// The noise std of the target left unexplained.
    #[getter]
    fn noise_std(&self) -> f64 {
        self.fit.selection.fit.noise_std()
    }

    /// Why the data support no term (the automatic choice found none), else None.
    #[getter]
    fn unsupported(&self) -> Option<String> {
        self.fit
            .selection
            .unsupported
            .as_ref()
            .map(|u| u.to_string())
    }

    /// Fraction of the target explained on held-out row blocks (None: too few rows).
    #[getter]
    fn held_out_explained(&self) -> Option<f64> {
        self.fit.selection.stability.held_out.map(|h| h.explained)
    }

    /// The discovered equation, e.g. `u_t error = -1.00(±0.01) u*u_x`.
    #[pyo3(signature = (lhs = "y"))]
    fn equation(&self, lhs: &str) -> String {
        medida::regression::equation::Equation::from_fit(lhs, &self.fit.selection.fit).to_string()
    }

    /// What `medida fit` prints.
    #[pyo3(signature = (lhs = "y"))]
    fn summary(&self, lhs: &str) -> String {
        self.fit.summary(lhs)
    }

    /// The JSON report of `medida fit --json`, as text.
    fn report_json(&self) -> String {
        self.fit.report(&self.name).to_json()
    }
}

/// The regression on any matrix (see `medida.fit`).
#[pyfunction]
#[pyo3(signature = (x, y, labels, prune_alpha = "auto".to_string(), method = "rvm", seed = 0, name = "fit"))]
#[allow(clippy::too_many_arguments)] // one per keyword of the Python call
fn fit(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    labels: Vec<String>,
    prune_alpha: String,
    method: &str,
    seed: u64,
    name: &str,
) -> PyResult<PyFit> {
    let choice = medida::regression::parse_prune_alpha(&prune_alpha).map_err(error)?;
    let method = method.parse().map_err(error)?;
    let (x, y) = (x.as_array(), y.as_array());
    let fit = py
        .detach(|| medida::regression::fit_matrix("medida.fit", labels, x, y, method, choice, seed))
        .map_err(error)?;
    Ok(PyFit {
        fit,
        name: name.to_string(),
    })
}

/// What a run found (see `medida.Discovery`).
#[pyclass(name = "Discovery", module = "medida._medida", frozen)]
struct PyDiscovery {
    discovery: medida::Discovery,
    /// The case as run, as the JSON of its TOML table.
    case_json: String,
}

#[pymethods]
impl PyDiscovery {
    #[getter]
    fn name(&self) -> String {
        self.discovery.name.clone()
    }

    #[getter]
    fn system(&self) -> &'static str {
        self.discovery.system
    }

    /// The regressed components (`u`; `q1`, `q2`).
    #[getter]
    fn components(&self) -> Vec<String> {
        self.discovery
            .components
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// One printed equation per component.
    #[getter]
    fn equations(&self) -> Vec<String> {
        self.discovery
            .components
            .iter()
            .map(|c| c.equation.to_string())
            .collect()
    }

    /// What `medida run` prints.
    fn summary(&self) -> String {
        summary(&self.discovery)
    }

    /// Twin experiments: (exactly the expected terms found, worst relative coefficient error).
    fn outcome(&self) -> Option<(bool, f64)> {
        self.discovery.outcome()
    }

    /// The JSON report of `medida run --json`, as text.
    fn report_json(&self) -> String {
        Report::from_discovery(&self.discovery).to_json()
    }

    /// The case as run (the TOML's table as JSON text).
    fn case_json(&self) -> String {
        self.case_json.clone()
    }

    /// Per component: the library and every column's coefficient and std (zero where
    /// pruned), as JSON text.
    fn model_json(&self) -> String {
        let components: Vec<serde_json::Value> = self
            .discovery
            .components
            .iter()
            .map(|c| {
                let f = &c.fit;
                serde_json::json!({
                    "name": c.name,
                    "lhs": c.equation.lhs,
                    "library": f.names,
                    "retained": f.retained.iter().map(|&i| f.names[i].clone()).collect::<Vec<_>>(),
                    "coefficients": on_library(f, &f.coefficients),
                    "std": on_library(f, &f.std),
                    "corrected": c.corrected,
                    "equation": c.equation.to_string(),
                })
            })
            .collect();
        serde_json::to_string(&components).expect("plain data")
    }

    /// The arrays behind the figures: a dict of numpy arrays.
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        match &self.discovery.sample {
            Some(Sample::Line {
                x,
                sample_times,
                sample_states,
                increment,
                reconstruction,
            }) => {
                out.set_item("x", x.clone().into_pyarray(py))?;
                out.set_item("sample_times", sample_times.clone().into_pyarray(py))?;
                out.set_item("sample_states", sample_states.clone().into_pyarray(py))?;
                out.set_item("increment", increment.clone().into_pyarray(py))?;
                out.set_item("reconstruction", reconstruction.clone().into_pyarray(py))?;
            }
            Some(Sample::Maps {
                x,
                y,
                edge_cut,
                state_label,
                state,
                increment,
                reconstruction,
            }) => {
                let stack = |maps: &[ndarray::Array2<f64>]| {
                    let views: Vec<_> = maps.iter().map(|m| m.view()).collect();
                    ndarray::stack(ndarray::Axis(0), &views).expect("maps of one shape")
                };
                out.set_item("x", x.clone().into_pyarray(py))?;
                out.set_item("y", y.clone().into_pyarray(py))?;
                out.set_item("edge_cut", *edge_cut)?;
                out.set_item("state_label", state_label)?;
                out.set_item("state", stack(state).into_pyarray(py))?;
                out.set_item("increment", stack(increment).into_pyarray(py))?;
                out.set_item("reconstruction", stack(reconstruction).into_pyarray(py))?;
            }
            None => {}
        }
        let sweeps = PyList::empty(py);
        for c in &self.discovery.components {
            let sweep = PyDict::new(py);
            let alphas: Vec<f64> = c.sweep.iter().map(|p| p.prune_alpha).collect();
            let terms: Vec<usize> = c.sweep.iter().map(|p| p.terms()).collect();
            let evidence: Vec<f64> = c.sweep.iter().map(|p| p.fit.log_evidence).collect();
            let noise: Vec<f64> = c.sweep.iter().map(|p| p.fit.noise_std()).collect();
            sweep.set_item("prune_alpha", alphas.into_pyarray(py))?;
            sweep.set_item("terms", terms.into_pyarray(py))?;
            sweep.set_item("log_evidence", evidence.into_pyarray(py))?;
            sweep.set_item("noise_std", noise.into_pyarray(py))?;
            sweep.set_item("chosen", c.prune_alpha)?;
            sweeps.append(sweep)?;
        }
        out.set_item("sweep", sweeps)?;
        if let Some(s) = &self.discovery.skill {
            out.set_item("skill_times", s.times.clone().into_pyarray(py))?;
            out.set_item(
                "imperfect_error",
                s.imperfect_error.clone().into_pyarray(py),
            )?;
            out.set_item(
                "corrected_error",
                s.corrected_error.clone().into_pyarray(py),
            )?;
        }
        Ok(out)
    }

    /// Writes the figures of `medida run --plots` into `folder`; returns their paths.
    fn plot(&self, folder: std::path::PathBuf) -> PyResult<Vec<std::path::PathBuf>> {
        medida::output::plots::discovery_figures(&folder, &self.discovery)
            .map_err(|e| error(e.into()))
    }
}

/// Runs the pipeline with the GIL released; `progress` (a callable taking the stage's text,
/// or None) is called at every stage, and Ctrl-C stops the run at the next one.
fn run_case(
    py: Python<'_>,
    case: Case,
    case_json: String,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyDiscovery> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let result = py.detach(|| {
        medida::systems::run_with(&case, &|stage| {
            Python::attach(|py| {
                let outcome = progress
                    .as_ref()
                    .map_or(Ok(()), |p| p.call1(py, (stage,)).map(|_| ()))
                    .and_then(|_| py.check_signals());
                outcome.map_err(|e| {
                    *raised.lock().expect("not poisoned") = Some(e);
                    EngineError::Interrupted
                })
            })
        })
    });
    if let Some(e) = raised.into_inner().expect("not poisoned") {
        return Err(e);
    }
    match result {
        Ok(discovery) => Ok(PyDiscovery {
            discovery,
            case_json,
        }),
        Err(EngineError::Interrupted) => {
            Err(PyKeyboardInterrupt::new_err("medida run interrupted"))
        }
        Err(e) => Err(error(e)),
    }
}

/// Runs a case: a path to a case file, a built-in case's name, or a dict in the TOML's shape.
#[pyfunction]
#[pyo3(signature = (case, progress = None))]
fn run(
    py: Python<'_>,
    case: &Bound<'_, PyAny>,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyDiscovery> {
    let (parsed, text) = if case.is_instance_of::<PyDict>() {
        let text = toml_of(py, case)?;
        let mut parsed =
            Case::from_toml(&text).map_err(|e| MedidaError::new_err(format!("case dict: {e}")))?;
        parsed.resolve_file(&std::env::current_dir().unwrap_or_default());
        (parsed, text)
    } else {
        let name: String = py
            .import("os")?
            .call_method1("fspath", (case,))
            .map_err(|_| MedidaError::new_err("case: a path, a built-in case's name or a dict"))?
            .extract()?;
        medida::cases::resolve_with_text(&name).map_err(error)?
    };
    let mut table = case_table(&text);
    // The observation file as run (absolute), so that a saved case reruns from anywhere.
    if let Some(file) = &parsed.observations.file {
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        table["observations"]["file"] = serde_json::Value::String(absolute.display().to_string());
    }
    run_case(py, parsed, table.to_string(), progress)
}

/// Discovery on arrays held in memory: `case` (a dict in the TOML's shape, no
/// `observations.file`), the observed field(s) `u` — (n, points) for one field; for several,
/// (n, fields, ...) split along axis 1 into the system's fields (`psi1`, `psi2`) — and any
/// other arrays of the observation file's layout by name (`t`, coordinates).
#[pyfunction]
#[pyo3(signature = (case, u, arrays, progress = None))]
fn discover(
    py: Python<'_>,
    case: &Bound<'_, PyDict>,
    u: Option<PyReadonlyArrayDyn<'_, f64>>,
    arrays: Vec<(String, PyReadonlyArrayDyn<'_, f64>)>,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyDiscovery> {
    let text = toml_of(py, case.as_any())?;
    let label = "the arrays given to medida.discover";
    let bad = |e: EngineError| MedidaError::new_err(format!("medida.discover: {e}"));
    // Parsed once without data to learn the system's fields, then given the arrays.
    let mut parsed = Case::with_arrays(&text, Arrays::default()).map_err(bad)?;
    let mut named: Vec<(String, Vec<usize>, Vec<f64>)> = arrays
        .into_iter()
        .map(|(name, a)| {
            let a = a.as_array();
            (name, a.shape().to_vec(), a.iter().copied().collect())
        })
        .collect();
    if let Some(u) = u {
        let u = u.as_array();
        let (fields, _) = parsed.system.fields();
        if fields.len() == 1 {
            named.push((
                fields[0].to_string(),
                u.shape().to_vec(),
                u.iter().copied().collect(),
            ));
        } else if u.ndim() < 2 || u.shape()[1] != fields.len() {
            return Err(MedidaError::new_err(format!(
                "medida.discover: `u` has shape {:?}; a {} system observes {} fields ({}): give u as (times, {}, ...) or each field by name",
                u.shape(),
                parsed.system.kind(),
                fields.len(),
                fields.join(", "),
                fields.len()
            )));
        } else {
            for (k, field) in fields.iter().enumerate() {
                let part = u.index_axis(ndarray::Axis(1), k);
                named.push((
                    field.to_string(),
                    part.shape().to_vec(),
                    part.iter().copied().collect(),
                ));
            }
        }
    }
    parsed.observations.arrays = Some(std::sync::Arc::new(Arrays::new(label, named).map_err(bad)?));
    // The saved case names where its observations were: rerun, it says they are not there
    // (rather than quietly becoming a twin experiment).
    let mut table = case_table(&text);
    table["observations"]["file"] = serde_json::Value::String(format!("<{label}>"));
    run_case(py, parsed, table.to_string(), progress)
}

/// The built-in cases: (name, path under data/).
#[pyfunction]
fn cases() -> Vec<(&'static str, &'static str)> {
    medida::cases::builtin().map(|b| (b.name, b.path)).collect()
}

/// An equation as medida prints it: `lhs = c(±s) term + ...` (std may be None).
#[pyfunction]
#[pyo3(signature = (lhs, terms, coefficients, std = None))]
fn format_equation(
    lhs: &str,
    terms: Vec<String>,
    coefficients: Vec<f64>,
    std: Option<Vec<f64>>,
) -> PyResult<String> {
    use medida::regression::equation::{Equation, EquationTerm};
    if terms.len() != coefficients.len() || std.as_ref().is_some_and(|s| s.len() != terms.len()) {
        return Err(MedidaError::new_err(
            "format_equation: terms, coefficients and std differ in length",
        ));
    }
    let terms = terms
        .into_iter()
        .enumerate()
        .map(|(k, term)| EquationTerm {
            term,
            coefficient: coefficients[k],
            std: std.as_ref().map(|s| s[k]),
        })
        .collect();
    Ok(Equation {
        lhs: lhs.to_string(),
        terms,
    }
    .to_string())
}

#[pymodule]
fn _medida(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // As the CLI does first thing: freed blocks stay in the process (memory.rs says why).
    medida::memory::retain_freed_memory();
    m.add("MedidaError", m.py().get_type::<MedidaError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyFit>()?;
    m.add_class::<PyDiscovery>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(cases, m)?)?;
    m.add_function(wrap_pyfunction!(format_equation, m)?)?;
    Ok(())
}
