//! MEDIDA on the two-layer QG case (JAMES 2023): a spun-up truth, sample states every
//! `spacing`, one forward-Euler step of truth and of the imperfect model from each, the
//! increment h_k = (q_k^truth − q_k^model)/Δt per layer, the 2-D library at the sample state
//! (with the model's one-step hyperviscous damping applied, which makes the regression exact
//! for Euler pairs), the edge cut, one RVM per layer with the threshold chosen from a sweep.

use crate::assimilation::{Analysis, Etkf, Geometry, Letkf, Observation, StochasticEnkf};
use crate::equation::Equation;
use crate::error::{MedidaError, Result};
use crate::normal_equations::NormalEquations;
use crate::pipeline::{std_of, Timings};
use crate::qg_config::{QgCase, Threshold};
use crate::qg_interpolation::{interpolate, sensor_mask, InterpolatorKind};
use crate::qg_library::QgLibrary;
use crate::rvm::{fit, RvmFit, RvmSettings};
use crate::solvers::{
    QgIntervalModel, QgModel, QgParams, QgScheme, QgStepper, Spectral2d, Stepper,
};
use crate::sweep::{log_thresholds, select_knee, threshold_sweep, SweepPoint};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rand_distr::{Distribution, Normal};
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
    /// Sensor points (None: exact observations on the whole grid).
    pub sensors: Option<Vec<usize>>,
    pub noise: f64,
    pub interpolator: String,
    pub lowpass: Option<f64>,
    /// The ensemble filter, if any (e.g. "letkf (20 members)").
    pub assimilation: Option<String>,
    /// Maps of the first pair, for the figures.
    pub sample: Option<QgSample>,
}

/// The first pair on the grid: the sample state's PV (as observed and interpolated), and per
/// layer the increment and the discovered terms' reconstruction inside the edge cut.
#[derive(Clone, Debug)]
pub struct QgSample {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub edge_cut: usize,
    pub pv: [Array2<f64>; 2],
    pub increment: [Array2<f64>; 2],
    pub reconstruction: [Array2<f64>; 2],
}

/// Sweep of the automatic threshold: 1 … 1e10, two points per decade.
pub const QG_SWEEP: (f64, f64, usize) = (1.0, 1e10, 21);

pub type Snapshots = Arc<Vec<Vec<Complex64>>>;

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

/// The truth's sample states (leapfrog, the authors' scheme): spectra of both layers' PV,
/// `pairs` of them `spacing` apart after the spin-up, cached per run settings.
pub fn truth_states(case: &QgCase) -> Result<Snapshots> {
    truth_snapshots(case, &case.truth_params())
}

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

/// What the sensors see of each pair's two states: ψ1, ψ2 at the sensor points with noise
/// N(0, (noise · std ψ_k)²) drawn per (seed, pair, time, layer), interpolated back to the
/// whole grid (all fields as one batch) and turned into PV.
fn observed_states(
    model: &mut QgModel,
    states: &[(Vec<Complex64>, Vec<Complex64>)],
    sensors: &[usize],
    noise: f64,
    interpolator: &InterpolatorKind,
    seed: u64,
) -> Result<Observed> {
    let (n, points) = (model.modes(), model.grid().points());
    let mut psi = vec![Complex64::new(0.0, 0.0); 2 * n];
    let mut field = vec![0.0; 2 * points];
    let mut observed = Vec::with_capacity(4 * states.len());
    let mut variances = Vec::with_capacity(4 * states.len());
    for (k, (now, next)) in states.iter().enumerate() {
        for (time, q) in [now, next].into_iter().enumerate() {
            model.invert(q, &mut psi);
            model.to_physical(&psi, &mut field);
            for layer in 0..2 {
                let f = &field[layer * points..(layer + 1) * points];
                let std = std_of(f);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(1 + ((k * 2 + time) * 2 + layer) as u64);
                variances.push((noise * std).powi(2));
                let normal = Normal::new(0.0, noise * std).map_err(|e| {
                    MedidaError::Config(format!("observations.noise = {noise}: {e}"))
                })?;
                observed.push(
                    sensors
                        .iter()
                        .map(|&p| {
                            f[p] + if noise > 0.0 {
                                normal.sample(&mut rng)
                            } else {
                                0.0
                            }
                        })
                        .collect::<Vec<f64>>(),
                );
            }
        }
    }
    let fields = interpolate(interpolator, model.grid(), sensors, &observed, seed)?;
    let mut states = Vec::with_capacity(states.len());
    for pair in fields.chunks_exact(4) {
        states.push((
            pv_of(model, &[pair[0].as_slice(), pair[1].as_slice()].concat())?,
            pv_of(model, &[pair[2].as_slice(), pair[3].as_slice()].concat())?,
        ));
    }
    Ok(Observed {
        states,
        fields,
        observed,
        variances,
    })
}

/// PV spectra of both layers from [ψ1; ψ2] on the grid.
fn pv_of(model: &mut QgModel, psi: &[f64]) -> Result<Vec<Complex64>> {
    let psi = model.to_spectral(psi)?;
    let mut q = vec![Complex64::new(0.0, 0.0); psi.len()];
    model.potential_vorticity(&psi, &mut q);
    Ok(q)
}

/// What the sensors gave and what the interpolator made of it.
struct Observed {
    /// (PV at t, PV at t + Δt) per pair.
    states: Vec<(Vec<Complex64>, Vec<Complex64>)>,
    /// ψ_k on the grid, per pair: [ψ1(t), ψ2(t), ψ1(t+Δt), ψ2(t+Δt)].
    fields: Vec<Vec<f64>>,
    /// Sensor values in the same order.
    observed: Vec<Vec<f64>>,
    /// Their noise variances.
    variances: Vec<f64>,
}

/// The ensemble analysis at t + Δt of pair `k` (see [`crate::qg_config::QgAssimilation`]);
/// returns [ψ1; ψ2] on the grid.
#[allow(clippy::too_many_arguments)]
fn ensemble_analysis(
    case: &QgCase,
    model: &QgIntervalModel,
    grid: &mut Spectral2d,
    start: [&[f64]; 2],
    sensors: &[usize],
    observed: [&[f64]; 2],
    variances: [f64; 2],
    k: usize,
) -> Result<Vec<f64>> {
    let settings = &case.assimilation;
    let points = grid.points();
    let members = settings.members;
    let mut ensemble = DMatrix::zeros(2 * points, members);
    // Random fields with the start state's spectrum: each mode times a complex normal.
    let mut spectra = Vec::with_capacity(2);
    let mut stds = [0.0; 2];
    for layer in 0..2 {
        let mut s = vec![Complex64::new(0.0, 0.0); grid.modes()];
        grid.forward(start[layer], &mut s);
        s[0] = Complex64::new(0.0, 0.0);
        spectra.push(s);
        stds[layer] = std_of(start[layer]);
    }
    let mut field = vec![0.0; points];
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    for member in 0..members {
        let mut rng = ChaCha8Rng::seed_from_u64(case.seed ^ 0x00a5_5a17);
        rng.set_stream(((k as u64) << 32) | member as u64);
        for layer in 0..2 {
            for (out, s) in spectrum.iter_mut().zip(&spectra[layer]) {
                let z = Complex64::new(
                    StandardNormal.sample(&mut rng),
                    StandardNormal.sample(&mut rng),
                );
                *out = s * z;
            }
            grid.inverse(&spectrum, &mut field);
            let spread = (field.iter().map(|v| v * v).sum::<f64>() / points as f64).sqrt();
            let scale = if spread > 0.0 {
                settings.perturbation * stds[layer] / spread
            } else {
                0.0
            };
            for (i, v) in field.iter().enumerate() {
                ensemble[(layer * points + i, member)] = start[layer][i] + scale * v;
            }
        }
    }
    crate::assimilation::forecast(model, &mut ensemble).map_err(|e| {
        MedidaError::Config(format!(
            "the forecast ensemble of pair {k} failed: {e} (lower assimilation.perturbation)"
        ))
    })?;
    let indices: Vec<usize> = sensors
        .iter()
        .copied()
        .chain(sensors.iter().map(|p| p + points))
        .collect();
    let variance: Vec<f64> = [variances[0], variances[1]]
        .iter()
        .flat_map(|v| std::iter::repeat_n(*v, sensors.len()))
        .collect();
    let observation = Observation::new(2 * points, indices, variance)?;
    let values: Vec<f64> = observed[0].iter().chain(observed[1]).copied().collect();
    let (inflation, seed) = (settings.inflation, case.seed);
    match settings.method.as_str() {
        "letkf" => Letkf {
            inflation,
            radius: settings.localization,
            geometry: Geometry::Periodic2d {
                nx: grid.nx(),
                ny: grid.ny(),
            },
        }
        .analyse(&mut ensemble, &observation, &values, k as u64)?,
        "etkf" => Etkf {
            inflation,
            ..Default::default()
        }
        .analyse(&mut ensemble, &observation, &values, k as u64)?,
        _ => StochasticEnkf {
            inflation,
            seed,
            ..Default::default()
        }
        .analyse(&mut ensemble, &observation, &values, k as u64)?,
    }
    Ok(crate::assimilation::ensemble::mean(&ensemble)
        .as_slice()
        .to_vec())
}

pub fn run_qg(case: &QgCase, progress: &dyn Fn(&str)) -> Result<QgDiscovery> {
    let mut seconds = Timings::default();
    let truth_params = case.truth_params();
    let model_params = case.model_params();
    let dt = case.truth.dt;

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
    // The first pair again, unthinned, for the maps of the report.
    let mut map_library =
        QgLibrary::new(&case.library.terms, &model_params, case.library.edge_cut)?;
    if let (Some(cutoff), true) = (case.lowpass(), case.library.thin) {
        let (sx, sy) = library.nyquist_stride(cutoff);
        library = library.with_stride(sx, sy);
    }
    let total_rows = library.rows() * case.observations.pairs;
    if total_rows < 2 * library.names().len() {
        return Err(MedidaError::Config(format!(
            "{total_rows} rows per layer ({} pair(s), after the edge cut{}) for {} library columns: \
             use more pairs, a smaller library.edge_cut, a higher library.lowpass or library.thin = false",
            case.observations.pairs,
            if case.library.thin && case.lowpass().is_some() { " and thinning" } else { "" },
            library.names().len()
        )));
    }
    // Settings are checked above; the spin-up is the expensive part.
    progress("QG truth run");
    let clock = Instant::now();
    let snapshots = truth_snapshots(case, &truth_params)?;
    seconds.truth = clock.elapsed().as_secs_f64();
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
    // The low-pass acts alike on the increment and on every column (exact for the
    // coefficients of a linear regression on filtered data).
    let low_pass: Option<Vec<f64>> = case.lowpass().map(|cutoff| {
        let grid = model_stepper.model().grid();
        let kx = grid.kx();
        (0..grid.modes())
            .map(|m| {
                let k2 = grid.wavenumber_squared(m / kx, m % kx);
                if k2 <= cutoff * cutoff {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    });
    let multiplier: Option<Vec<f64>> = match (&multiplier, &low_pass) {
        (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(a, b)| a * b).collect()),
        (Some(a), None) => Some(a.clone()),
        (None, b) => b.clone(),
    };

    // (state at t, state at t + Δt) per pair: the truth's, or interpolated from sensors.
    let clock = Instant::now();
    let mut states = Vec::with_capacity(snapshots.len());
    for q in snapshots.iter() {
        states.push((q.clone(), euler_step(&mut truth_stepper, q)?));
    }
    seconds.forecast += clock.elapsed().as_secs_f64();
    let mut sensors = None;
    let interpolator = case.interpolator()?;
    if !case.exact_full() {
        progress(&format!("interpolating with {}", interpolator.label()));
        let clock = Instant::now();
        let mask = sensor_mask(
            truth_stepper.model().grid().points(),
            case.observations.fraction,
            case.seed,
        )?;
        let observed = observed_states(
            truth_stepper.model_mut(),
            &states,
            &mask,
            case.observations.noise,
            &interpolator,
            case.seed,
        )?;
        states = observed.states;
        if case.assimilation.method != "none" {
            progress(&format!("{} analyses", case.assimilation.method));
            let filter_model = QgIntervalModel::new(
                QgModel::new(model_params.clone())?,
                QgScheme::ForwardEuler,
                dt,
                1,
            )?
            .on_streamfunction();
            let mut grid = truth_stepper.model().grid().clone();
            for (k, state) in states.iter_mut().enumerate() {
                let f = &observed.fields[4 * k..4 * k + 4];
                let o = &observed.observed[4 * k..4 * k + 4];
                let v = &observed.variances[4 * k..4 * k + 4];
                let analysis = ensemble_analysis(
                    case,
                    &filter_model,
                    &mut grid,
                    [&f[0], &f[1]],
                    &mask,
                    [&o[2], &o[3]],
                    [v[2], v[3]],
                    k,
                )?;
                state.1 = pv_of(truth_stepper.model_mut(), &analysis)?;
            }
        }
        sensors = Some(mask);
        seconds.assimilation = clock.elapsed().as_secs_f64();
    }

    let points = truth_stepper.model().grid().points();
    let mut physical = vec![0.0; 2 * points];
    let mut first = None;
    for (k, (q, next)) in states.iter().enumerate() {
        progress(&format!("pair {}/{}", k + 1, states.len()));
        let clock = Instant::now();
        let model_next = euler_step(&mut model_stepper, q).map_err(|e| {
            MedidaError::Config(format!(
                "the imperfect QG model failed in its one-step forecast of pair {k}: {e}"
            ))
        })?;
        let n = model_next.len() / 2;
        let increment: Vec<Complex64> = next
            .iter()
            .zip(&model_next)
            .enumerate()
            .map(|(m, (t, f))| {
                let filter = low_pass.as_ref().map_or(1.0, |l| l[m % n]);
                (t - f) / dt * filter
            })
            .collect();
        truth_stepper
            .model_mut()
            .to_physical(&increment, &mut physical);
        seconds.forecast += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let columns = library.evaluate(q, multiplier.as_deref());
        if k == 0 {
            let mut pv = vec![0.0; 2 * points];
            truth_stepper.model_mut().to_physical(q, &mut pv);
            first = Some((
                map_library.evaluate(q, multiplier.as_deref()),
                [0, 1].map(|l| map_library.cut(&physical[l * points..(l + 1) * points])),
                pv,
            ));
        }
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
            Threshold::Named(_) => match select_knee(&sweep, case.regression.knee) {
                Some(i) => (sweep[i].prune_alpha, sweep[i].fit.clone()),
                // No model explains more than chance: the sparsest of the sweep (empty
                // unless a term dominates even at α = 1).
                None => {
                    let i = (0..sweep.len())
                        .min_by_key(|&i| sweep[i].terms())
                        .expect("a non-empty sweep");
                    (sweep[i].prune_alpha, sweep[i].fit.clone())
                }
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
    let sample = first.map(|(columns, increment, pv)| {
        let grid = truth_stepper.model().grid();
        let (nx, ny, c) = (grid.nx(), grid.ny(), case.library.edge_cut);
        let (w, h) = (nx - 2 * c, ny - 2 * c);
        let reconstruction = [0, 1].map(|l| {
            let fit = &layers[l].fit;
            let mut r = vec![fit.intercept; w * h];
            for &i in &fit.retained {
                for (r, v) in r.iter_mut().zip(&columns[i]) {
                    *r += fit.coefficients[i] * v;
                }
            }
            Array2::from_shape_vec((h, w), r).expect("cut size")
        });
        QgSample {
            x: grid.x(),
            y: grid.y(),
            edge_cut: c,
            pv: [0, 1].map(|l| {
                Array2::from_shape_vec((ny, nx), pv[l * points..(l + 1) * points].to_vec())
                    .expect("grid size")
            }),
            increment: increment.map(|v| Array2::from_shape_vec((h, w), v).expect("cut size")),
            reconstruction,
        }
    });
    Ok(QgDiscovery {
        name: case.name.clone(),
        rows: stats[0].rows,
        pairs: snapshots.len(),
        layers,
        seconds,
        sensors,
        noise: case.observations.noise,
        interpolator: interpolator.label(),
        lowpass: case.lowpass(),
        assimilation: (case.assimilation.method != "none").then(|| {
            format!(
                "{} ({} members)",
                case.assimilation.method, case.assimilation.members
            )
        }),
        sample,
    })
}

/// (exactly the expected terms found in both layers, worst relative coefficient error over
/// the expected terms; a missed term counts as 100 %).
pub fn qg_outcome(d: &QgDiscovery) -> (bool, f64) {
    d.layers.iter().fold((true, 0.0f64), |(exact, worst), l| {
        let (e, w) = l.fit.compare(&l.expected);
        (exact && e, worst.max(w))
    })
}

/// How the data were observed, in words.
fn observation_summary(d: &QgDiscovery) -> String {
    let sensors = match &d.sensors {
        None => return "full exact observations".into(),
        Some(s) => s.len(),
    };
    let lowpass = d
        .lowpass
        .map_or("no low-pass".into(), |k| format!("low-pass |K| ≤ {k}"));
    format!(
        "{sensors} sensors, noise {} × std ψ, interpolation {}{}, {lowpass}",
        d.noise,
        d.interpolator,
        d.assimilation
            .as_ref()
            .map_or(String::new(), |a| format!(", then {a} at t + Δt"))
    )
}

/// The printed summary: per layer, discovered and expected error with relative errors.
pub fn qg_summary(d: &QgDiscovery) -> String {
    let mut s = format!(
        "case {}: {} pairs, {} rows per layer, {}\n",
        d.name,
        d.pairs,
        d.rows,
        observation_summary(d)
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
    s += "\nthreshold sweep (the L-curve): prune_alpha, terms and normalised error per layer\n";
    if let [one, two] = &d.layers[..] {
        for (a, b) in one.sweep.iter().zip(&two.sweep) {
            s += &format!(
                "  {:>8.0e}   q1: {:>2} terms {:.3e}   q2: {:>2} terms {:.3e}\n",
                a.prune_alpha,
                a.terms(),
                a.fit.normalised_error,
                b.terms(),
                b.fit.normalised_error
            );
        }
    }
    s += &format!(
        "\nseconds          truth {:.2}, forecast {:.3}, interpolation {:.3}, regression {:.3}\n",
        d.seconds.truth, d.seconds.forecast, d.seconds.assimilation, d.seconds.regression
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
        "observations": {
            "sensors": d.sensors.as_ref().map(|s| s.len()),
            "noise": d.noise,
            "interpolation": d.interpolator,
            "lowpass": d.lowpass,
            "assimilation": d.assimilation,
        },
        "seconds": {
            "truth": d.seconds.truth,
            "forecast": d.seconds.forecast,
            "assimilation": d.seconds.assimilation,
            "regression": d.seconds.regression
        }
    })
}
