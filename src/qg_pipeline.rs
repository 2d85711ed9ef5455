//! MEDIDA on the two-layer QG case (JAMES 2023): a spun-up truth, sample states every
//! `spacing`, one forward-Euler step of truth and of the imperfect model from each, the
//! increment h_k = (q_k^truth − q_k^model)/Δt per layer, the 2-D library at the sample state
//! (with the model's one-step hyperviscous damping applied, which makes the regression exact
//! for Euler pairs), the edge cut, one RVM per layer with the threshold chosen from a sweep.

use crate::equation::Equation;
use crate::error::{MedidaError, Result};
use crate::normal_equations::NormalEquations;
use crate::pipeline::Timings;
use crate::qg_config::{QgCase, Threshold};
use crate::qg_library::QgLibrary;
use crate::rvm::{fit, RvmFit, RvmSettings};
use crate::solvers::{QgModel, QgParams, QgScheme, QgStepper, Stepper};
use crate::sweep::{log_thresholds, select_plateau, threshold_sweep, SweepPoint};
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// What one layer's regression found.
#[derive(Clone, Debug)]
pub struct LayerDiscovery {
    pub fit: RvmFit,
    pub equation: Equation,
    /// truth − model in the library's names.
    pub expected: Vec<(String, f64)>,
    pub sweep: Vec<SweepPoint>,
    pub prune_alpha: f64,
}

#[derive(Clone, Debug)]
pub struct QgDiscovery {
    pub name: String,
    pub layers: Vec<LayerDiscovery>,
    pub pairs: usize,
    pub rows: usize,
    pub seconds: Timings,
}

/// Sweep of the automatic threshold: 1 … 1e10, two points per decade.
pub const QG_SWEEP: (f64, f64, usize) = (1.0, 1e10, 21);

type Snapshots = Arc<Vec<Vec<Complex64>>>;

fn truth_cache() -> &'static Mutex<HashMap<String, Snapshots>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Snapshots>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A tiny random PV on the large scales (|k|, |l| ≤ 6 modes), from the seed.
fn initial_state(model: &QgModel, seed: u64) -> Vec<Complex64> {
    let n = model.modes();
    let (kx, ny) = (model.grid().kx(), model.grid().ny());
    let amplitude = 1e-3 * model.grid().points() as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut q = vec![Complex64::new(0.0, 0.0); 2 * n];
    for layer in 0..2 {
        for j in (0..=6).chain(ny - 6..ny) {
            for i in 1..=6.min(kx - 1) {
                q[layer * n + j * kx + i] = Complex64::new(
                    amplitude * rng.gen_range(-1.0..1.0),
                    amplitude * rng.gen_range(-1.0..1.0),
                );
            }
        }
    }
    q
}

/// The truth's sample states (leapfrog, the authors' scheme), cached per run settings.
fn truth_snapshots(case: &QgCase, params: &QgParams) -> Result<Snapshots> {
    let dt = case.truth.dt;
    let spinup = (case.truth.spinup / dt).round() as usize;
    let spacing = ((case.truth.spacing / dt).round() as usize).max(1);
    let pairs = case.observations.pairs;
    let key = format!("{params:?}|{}|{dt}|{spinup}|{spacing}|{pairs}", case.seed);
    if let Some(s) = truth_cache().lock().expect("cache lock").get(&key) {
        return Ok(Arc::clone(s));
    }
    let model = QgModel::new(params.clone())?;
    let mut q = initial_state(&model, case.seed);
    let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, dt)?;
    let fail = |e: crate::solvers::SolverError| {
        MedidaError::Config(format!(
            "the QG truth run failed: {e} (check the [truth] parameters and dt)"
        ))
    };
    stepper.advance(&mut q, spinup, 0).map_err(fail)?;
    let mut snapshots = Vec::with_capacity(pairs);
    for k in 0..pairs {
        if k > 0 {
            stepper
                .advance(&mut q, spacing, spinup + (k - 1) * spacing)
                .map_err(fail)?;
        }
        snapshots.push(q.clone());
    }
    let snapshots = Arc::new(snapshots);
    truth_cache()
        .lock()
        .expect("cache lock")
        .insert(key, Arc::clone(&snapshots));
    Ok(snapshots)
}

/// One forward-Euler step (implicit hyperviscosity), as in the authors' sample pairs.
fn euler_step(stepper: &mut QgStepper, q: &[Complex64]) -> Result<Vec<Complex64>> {
    stepper.reset();
    let mut next = q.to_vec();
    stepper.advance(&mut next, 1, 0)?;
    Ok(next)
}

pub fn run_qg(case: &QgCase, progress: &dyn Fn(&str)) -> Result<QgDiscovery> {
    let mut seconds = Timings::default();
    let truth_params = case.truth_params();
    let model_params = case.model_params();
    let dt = case.truth.dt;

    progress("QG truth run");
    let clock = Instant::now();
    let snapshots = truth_snapshots(case, &truth_params)?;
    seconds.truth = clock.elapsed().as_secs_f64();

    let mut truth_stepper = QgStepper::new(
        QgModel::new(truth_params.clone())?,
        QgScheme::ForwardEuler,
        dt,
    )?;
    let mut model_stepper = QgStepper::new(
        QgModel::new(model_params.clone())?,
        QgScheme::ForwardEuler,
        dt,
    )?;
    let mut library = QgLibrary::new(&case.library.terms, &model_params, case.library.edge_cut)?;
    let multiplier: Option<Vec<f64>> = case.library.propagator.then(|| {
        model_stepper
            .model()
            .damping()
            .iter()
            .map(|d| 1.0 / (1.0 + dt * d))
            .collect()
    });
    let names = library.names().to_vec();
    let mut stats = [
        NormalEquations::new(names.clone()),
        NormalEquations::new(names.clone()),
    ];
    let points = truth_stepper.model().grid().points();
    let mut physical = vec![0.0; 2 * points];
    for (k, q) in snapshots.iter().enumerate() {
        progress(&format!("pair {}/{}", k + 1, snapshots.len()));
        let clock = Instant::now();
        let truth_next = euler_step(&mut truth_stepper, q)?;
        let model_next = euler_step(&mut model_stepper, q).map_err(|e| {
            MedidaError::Config(format!(
                "the imperfect QG model failed in its one-step forecast of pair {k}: {e}"
            ))
        })?;
        let increment: Vec<Complex64> = truth_next
            .iter()
            .zip(&model_next)
            .map(|(t, m)| (t - m) / dt)
            .collect();
        truth_stepper
            .model_mut()
            .to_physical(&increment, &mut physical);
        seconds.forecast += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let columns = library.evaluate(q, multiplier.as_deref());
        let rows = library.rows();
        let matrix = Array2::from_shape_fn((rows, columns.len()), |(r, c)| columns[c][r]);
        for (layer, stats) in stats.iter_mut().enumerate() {
            let target = library.cut(&physical[layer * points..(layer + 1) * points]);
            stats.add(matrix.view(), Array1::from(target).view())?;
        }
        seconds.regression += clock.elapsed().as_secs_f64();
    }

    progress("regression");
    let clock = Instant::now();
    let settings = RvmSettings {
        method: case.regression.method.parse()?,
        tolerance: case.regression.tolerance,
        ..RvmSettings::default()
    };
    let expected = library.expected(&truth_params, &model_params);
    let mut layers = Vec::new();
    for (layer, stats) in stats.iter().enumerate() {
        let (low, high, count) = QG_SWEEP;
        let sweep = threshold_sweep(stats, &settings, &log_thresholds(low, high, count))?;
        let (prune_alpha, result) = match &case.regression.prune_alpha {
            Threshold::Fixed(alpha) => (
                *alpha,
                fit(
                    stats,
                    &RvmSettings {
                        prune_alpha: *alpha,
                        ..settings.clone()
                    },
                )?,
            ),
            Threshold::Named(_) => match select_plateau(&sweep) {
                Some(i) => (sweep[i].prune_alpha, sweep[i].fit.clone()),
                // Nothing survives any threshold: the empty model at the default.
                None => (settings.prune_alpha, fit(stats, &settings)?),
            },
        };
        layers.push(LayerDiscovery {
            equation: Equation::from_fit(&format!("q{}_t error", layer + 1), &result),
            fit: result,
            expected: expected[layer].clone(),
            sweep,
            prune_alpha,
        });
    }
    seconds.regression += clock.elapsed().as_secs_f64();
    Ok(QgDiscovery {
        name: case.name.clone(),
        rows: stats[0].rows,
        pairs: snapshots.len(),
        layers,
        seconds,
    })
}

/// The printed summary: per layer, discovered and expected error with relative errors.
pub fn qg_summary(d: &QgDiscovery) -> String {
    let mut s = format!(
        "case {}: {} pairs, {} rows per layer, full exact observations\n",
        d.name, d.pairs, d.rows
    );
    for (layer, l) in d.layers.iter().enumerate() {
        s += &format!(
            "\ndiscovered  {}   (prune_alpha {:.0e})\n",
            l.equation, l.prune_alpha
        );
        let expected = Equation::from_pairs(&format!("q{}_t error", layer + 1), &l.expected);
        s += &format!("expected    {expected}\n");
        for (term, value) in &l.expected {
            let found = l.fit.names.iter().position(|n| n == term);
            let got = found.map_or(0.0, |i| l.fit.coefficients[i]);
            s += &format!(
                "  {term:<12} expected {value:>9.4}  discovered {got:>10.5}  rel. error {:.3} %\n",
                100.0 * (got - value).abs() / value.abs()
            );
        }
    }
    s += &format!(
        "\nseconds          truth {:.2}, forecast {:.3}, regression {:.3}\n",
        d.seconds.truth, d.seconds.forecast, d.seconds.regression
    );
    s
}

/// The JSON report: interfaces.md's keys, each term carrying its `layer`.
pub fn qg_report(d: &QgDiscovery) -> serde_json::Value {
    let mut discovered = Vec::new();
    let mut expected = Vec::new();
    for (layer, l) in d.layers.iter().enumerate() {
        for (term, coefficient, std) in l.fit.terms() {
            discovered.push(serde_json::json!({
                "layer": layer + 1, "term": term, "coefficient": coefficient, "std": std
            }));
        }
        for (term, coefficient) in &l.expected {
            expected.push(serde_json::json!({
                "layer": layer + 1, "term": term, "coefficient": coefficient
            }));
        }
    }
    serde_json::json!({
        "name": d.name,
        "discovered": discovered,
        "expected": expected,
        "pairs": d.pairs,
        "rows": d.rows,
        "prune_alpha": d.layers.iter().map(|l| l.prune_alpha).collect::<Vec<_>>(),
        "seconds": {
            "truth": d.seconds.truth,
            "forecast": d.seconds.forecast,
            "assimilation": 0.0,
            "regression": d.seconds.regression
        }
    })
}
