//! The MEDIDA pipeline on a 1-D KS-family case: truth run → sample pairs → noisy
//! observations → one-step imperfect forecasts → analysis → increments (analysis −
//! forecast)/dt → library (with the model's propagator φ(dt·L)) → projection onto the modes
//! above the noise floor → RVM → closed-form error and corrected model.

use crate::assimilation::ensemble::{mean, standard_normals, stream, Purpose};
use crate::assimilation::localization::GASPARI_COHN_WIDTH;
use crate::assimilation::{Analysis, Etkf, Geometry, Letkf, Observation, StochasticEnkf};
use crate::config::{Case, Operator, Projection};
use crate::equation::Equation;
use crate::error::{MedidaError, Result};
use crate::interpolation::SpectralLeastSquares;
use crate::library::{apply_multiplier, project_sample, propagator, Derivatives, TermLibrary};
use crate::normal_equations::NormalEquations;
use crate::rvm::{fit, RvmFit, RvmSettings};
use crate::solvers::term::parse_rhs;
use crate::solvers::{
    medida_initial_state, run_with_snapshots, Etdrk4, KsForecaster, KsModel, KsParams, Scheme,
    Snapshots, Spectral1d, Term,
};
use crate::sweep::{log_thresholds, threshold_sweep, SweepPoint};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Wall-clock seconds per stage.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub truth: f64,
    pub forecast: f64,
    pub assimilation: f64,
    pub regression: f64,
}

/// Forecast skill of the imperfect and corrected models against the truth.
#[derive(Clone, Debug)]
pub struct ForecastSkill {
    pub times: Vec<f64>,
    pub imperfect_error: Vec<f64>,
    pub corrected_error: Vec<f64>,
    /// First time the relative error reaches 0.5 (None: not within the horizon).
    pub imperfect_time_to_half: Option<f64>,
    pub corrected_time_to_half: Option<f64>,
    /// Why the corrected run stopped early, if it did.
    pub corrected_failure: Option<String>,
}

/// Everything a run found, for printing, JSON and plots.
#[derive(Clone, Debug)]
pub struct Discovery {
    pub name: String,
    pub fit: RvmFit,
    pub equation: Equation,
    /// truth − model, term by term.
    pub expected: Vec<(String, f64)>,
    /// model + discovered, term by term.
    pub corrected: Vec<(String, f64)>,
    pub pairs: usize,
    pub rows: usize,
    pub projection_modes: Option<usize>,
    pub assimilation: String,
    pub seconds: Timings,
    pub skill: Option<ForecastSkill>,
    /// Grid coordinates, the truth snapshots at the sample times (for plots).
    pub x: Vec<f64>,
    pub sample_times: Vec<f64>,
    pub sample_states: Array2<f64>,
    /// The first sample's increment and its reconstruction by the discovered terms.
    pub increment: Vec<f64>,
    pub reconstruction: Vec<f64>,
    /// The same regression refitted over a range of `prune_alpha` (model-selection plot).
    pub sweep: Vec<SweepPoint>,
}

/// Thresholds of the sweep that accompanies every run: 10⁰ … 10⁶, two per decade.
pub const SWEEP_THRESHOLDS: (f64, f64, usize) = (1.0, 1e6, 13);

/// How many forecast steps the corrected-model assessment integrates, in model time units.
pub const SKILL_HORIZON: f64 = 50.0;
const SKILL_INTERVAL: f64 = 0.5;

type TruthKey = String;

/// Truth runs are deterministic in their inputs: runs of several cases in one process share
/// them.
fn truth_cache() -> &'static Mutex<HashMap<TruthKey, Arc<Snapshots>>> {
    static CACHE: OnceLock<Mutex<HashMap<TruthKey, Arc<Snapshots>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn rhs_of(map: &std::collections::BTreeMap<String, f64>) -> Result<Vec<(Term, f64)>> {
    Ok(parse_rhs(map.iter().map(|(k, v)| (k.as_str(), *v)))?)
}

fn ks_params(case: &Case, rhs: Vec<(Term, f64)>) -> KsParams {
    KsParams {
        length: case.system.length,
        points: case.system.points,
        rhs,
        dealias: case.system.dealias,
        conservative: true,
    }
}

fn initial_state(case: &Case, x: &[f64]) -> Vec<f64> {
    let length = case.system.length;
    match case.system.initial.as_str() {
        "random" => {
            // Smooth random state: the 16 lowest modes with random amplitudes and phases.
            let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
            let modes: Vec<(f64, f64)> = (1..=16)
                .map(|_| {
                    (
                        rng.gen_range(-1.0..1.0),
                        rng.gen_range(0.0..std::f64::consts::TAU),
                    )
                })
                .collect();
            x.iter()
                .map(|&x| {
                    modes
                        .iter()
                        .enumerate()
                        .map(|(j, (a, phase))| {
                            a * (std::f64::consts::TAU * (j + 1) as f64 * x / length + phase).cos()
                                / (j + 1) as f64
                        })
                        .sum()
                })
                .collect()
        }
        _ => medida_initial_state(x, length),
    }
}

/// Relative error ‖a − b‖ / ‖b‖.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den.max(1e-300)).sqrt()
}

/// Standard deviation of a field.
pub fn std_of(u: &[f64]) -> f64 {
    let mean = u.iter().sum::<f64>() / u.len() as f64;
    (u.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / u.len() as f64).sqrt()
}

/// Zeroes all Fourier modes above `modes` (a sharp low-pass).
fn low_pass(grid: &mut Spectral1d, u: &mut [f64], modes: usize) {
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    grid.forward(u, &mut spectrum);
    for s in spectrum.iter_mut().skip(modes + 1) {
        *s = Complex64::new(0.0, 0.0);
    }
    grid.inverse(&spectrum, u);
}

/// The number of modes whose observed power stands clearly (10×) above the white-noise floor
/// E|ε̂_j|² = N σ², σ = noise·std(u), averaged over the samples.
pub fn noise_floor_modes(grid: &mut Spectral1d, observed: &[Vec<f64>], noise: f64) -> usize {
    let n = grid.points();
    let mut power = vec![0.0; grid.modes()];
    let mut floor = 0.0;
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    for u in observed {
        grid.forward(u, &mut spectrum);
        for (p, s) in power.iter_mut().zip(&spectrum) {
            *p += s.norm_sqr();
        }
        // The observation's std includes the noise: σ_u² ≈ σ_true² (1 + noise²).
        let sigma = noise * std_of(u) / (1.0 + noise * noise).sqrt();
        floor += n as f64 * sigma * sigma;
    }
    let last = grid.modes() - 2;
    let first_below = (1..=last)
        .find(|&j| power[j] < 10.0 * floor)
        .unwrap_or(last + 1);
    (first_below - 1).max(1)
}

/// Runs one case end to end.
pub fn run(case: &Case, progress: &dyn Fn(&str)) -> Result<Discovery> {
    let mut seconds = Timings::default();
    let assimilation = AssimilationMethod::from_case(case)?;
    let truth_rhs = rhs_of(&case.truth.rhs)?;
    let model_rhs = rhs_of(&case.model.rhs)?;
    let truth_model = KsModel::new(ks_params(case, truth_rhs.clone()))?;
    let model = KsModel::new(ks_params(case, model_rhs.clone()))?;
    let scheme: Scheme = case.model.scheme.parse()?;
    let mut grid = Spectral1d::new(case.system.points, case.system.length)?;
    let x = grid.coordinates();
    let points = x.len();

    // Sample times: pairs spread evenly over the window after spin-up.
    let ratio = (case.model.dt / case.truth.dt).round() as usize;
    let spinup_steps = ((case.truth.spinup / case.truth.dt).round() as usize).max(ratio);
    let window_steps = (case.truth.duration / case.truth.dt).round() as usize;
    let pairs = case.observations.pairs;
    let starts: Vec<usize> = (0..pairs)
        .map(|k| spinup_steps + k * window_steps / pairs)
        .collect();
    let mut wanted: Vec<usize> = starts
        .iter()
        .flat_map(|&s| [s - ratio, s, s + ratio])
        .collect();
    wanted.sort_unstable();
    wanted.dedup();

    progress("truth run");
    let clock = Instant::now();
    let key = format!(
        "{:?}|{}|{}|{}|{}|{}|{}|{:?}",
        truth_rhs,
        case.system.length,
        points,
        case.system.dealias,
        case.system.initial,
        case.seed,
        case.truth.dt,
        wanted
    );
    let cached = truth_cache().lock().expect("cache lock").get(&key).cloned();
    let snapshots = match cached {
        Some(s) => s,
        None => {
            let u0 = initial_state(case, &x);
            let mut stepper = Etdrk4::new(truth_model, case.truth.dt)?;
            let snaps = Arc::new(run_with_snapshots(&mut stepper, &u0, &wanted).map_err(|e| {
                MedidaError::Config(format!(
                    "the truth run failed: {e} (check `truth.rhs` and `truth.dt`)"
                ))
            })?);
            truth_cache()
                .lock()
                .expect("cache lock")
                .insert(key, Arc::clone(&snaps));
            snaps
        }
    };
    seconds.truth = clock.elapsed().as_secs_f64();
    let state_at = |step: usize| -> Vec<f64> {
        let row = snapshots.steps.binary_search(&step).expect("snapshot kept");
        snapshots.states.row(row).to_vec()
    };

    // Observations: noise relative to the field's std at that time; one stream per sample
    // and time level, so a seed means the same data on every machine and thread count.
    let noise = case.observations.noise;
    let observe = |u: &[f64], sample: usize, level: u64| -> Vec<f64> {
        if noise == 0.0 {
            return u.to_vec();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
        rng.set_stream(sample as u64 * 3 + level + 1);
        let sigma = noise * std_of(u);
        u.iter()
            .map(|v| v + sigma * rng.sample::<f64, _>(StandardNormal))
            .collect()
    };
    let observed: Vec<[Vec<f64>; 3]> = starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            [
                observe(&state_at(s - ratio), k, 0),
                observe(&state_at(s), k, 1),
                observe(&state_at(s + ratio), k, 2),
            ]
        })
        .collect();

    // Sparse observations: the values at the observed points only, and the whole field fitted
    // through them by spectral least squares (the start states the forecast needs).
    let sensors = observed_points(case)?;
    let interpolator = match &sensors {
        Some(indices) => Some(SpectralLeastSquares::new(
            points,
            case.system.length,
            indices,
            (indices.len() / 4).min(points / 2 - 1),
        )?),
        None => None,
    };
    let sensor_values = |u: &[f64]| -> Vec<f64> {
        match &sensors {
            Some(indices) => indices.iter().map(|&i| u[i]).collect(),
            None => u.to_vec(),
        }
    };
    let fields: Vec<[Vec<f64>; 3]> = match &interpolator {
        Some(fit) => observed
            .iter()
            .map(|levels| levels.clone().map(|u| fit.fit(&sensor_values(&u))))
            .collect(),
        None => observed.clone(),
    };

    // Projection onto the modes above the noise floor (exact for both sides of g = Θc); with
    // sparse data never above the modes the points determine.
    let fitted_modes = interpolator.as_ref().map(|fit| fit.modes());
    let noise_modes = |grid: &mut Spectral1d| {
        let middle: Vec<Vec<f64>> = fields.iter().map(|o| o[1].clone()).collect();
        // A least-squares fit through m of N points spreads the noise as if it were √(N/m)
        // larger on the full grid.
        let inflation = sensors
            .as_ref()
            .map_or(1.0, |s| (points as f64 / s.len() as f64).sqrt());
        noise_floor_modes(grid, &middle, noise * inflation)
    };
    let projection_modes = match (&case.regression.projection, fitted_modes) {
        (Projection::Modes(n), fitted) => Some(fitted.map_or(*n, |f| f.min(*n))),
        (Projection::Named(n), None) if n == "none" => None,
        (Projection::Named(n), Some(_)) if n == "none" => {
            return Err(MedidaError::Config(
                "`regression.projection` = \"none\" with sparse observations: the increment is only known on the Fourier modes the observed points determine; use \"auto\" or a number of modes".into(),
            ))
        }
        (_, None) if noise == 0.0 => None,
        (_, None) => Some(noise_modes(&mut grid)),
        (_, Some(fitted)) if noise == 0.0 => Some(fitted),
        (_, Some(fitted)) => Some(noise_modes(&mut grid).min(fitted)),
    };

    let library = match &case.library.terms {
        Some(names) => {
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            TermLibrary::from_names(&names, derivatives_of(case))?
        }
        None => TermLibrary::polynomial(
            case.library.max_power,
            case.library.max_derivative,
            false,
            derivatives_of(case),
        )?,
    };
    if library
        .terms()
        .iter()
        .any(|t| t.max_derivative() as usize >= points / 2)
    {
        return Err(MedidaError::Config(format!(
            "`library.max_derivative` = {}: too high for a grid of {points} points",
            case.library.max_derivative
        )));
    }
    let phi = case
        .library
        .propagator
        .then(|| propagator(model.linear_operator(), case.model.dt));
    let mut forecaster = KsForecaster::new(model.clone(), scheme, case.model.dt)?;
    let mut stats = NormalEquations::new(library.names());
    let mut forecast = vec![0.0; points];
    let mut first_increment = Vec::new();
    let mut first_columns = None;
    // Kept for the refinement passes: each pair's analysis states and library columns.
    let mut kept_samples: Vec<([Vec<f64>; 3], Array2<f64>)> = Vec::new();
    let sensor_indices: Vec<usize> = sensors.clone().unwrap_or_else(|| (0..points).collect());
    for (k, (obs, raw)) in fields.iter().zip(&observed).enumerate() {
        progress(&format!("sample {}/{pairs}", k + 1));
        // Start states: the observations, low-passed to the kept modes when projecting.
        let clock = Instant::now();
        let mut analysis = obs.clone();
        if let (Some(modes), true) = (projection_modes, noise > 0.0) {
            for a in analysis.iter_mut() {
                low_pass(&mut grid, a, modes);
            }
        }
        if let AssimilationMethod::Ensemble(filter) = &assimilation {
            // The ensemble analysis at t + dt replaces the (low-passed) observation there.
            let truth_std = std_of(&state_at(starts[k] + ratio));
            let sensors =
                Observation::points(points, sensor_indices.clone(), (noise * truth_std).powi(2))?;
            analysis[2] = ensemble_analysis(
                case,
                filter,
                &forecaster,
                [&analysis[0], &analysis[1]],
                &sensors,
                &sensor_values(&raw[2]),
                k as u64,
            )?;
            if let Some(modes) = projection_modes {
                low_pass(&mut grid, &mut analysis[2], modes);
            }
        }
        seconds.assimilation += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        forecaster
            .forecast(Some(&analysis[0]), &analysis[1], &mut forecast)
            .map_err(|e| MedidaError::Config(format!("the imperfect model failed in its one-step forecast of sample {k}: {e} (check `model.rhs` and `model.dt`)")))?;
        // A finite but astronomically grown forecast is a blow-up too (an explicit scheme far
        // outside its stability region can grow by 1e50 in one step without overflowing).
        let start_size = analysis[1].iter().fold(1.0f64, |m, v| m.max(v.abs()));
        if forecast.iter().any(|v| v.abs() > 1e6 * start_size) {
            return Err(MedidaError::Config(format!(
                "the imperfect model blew up in its one-step forecast of sample {k} (|u| grew by more than 1e6; the solution is no longer finite in any useful sense): check `model.rhs`, `model.scheme` and `model.dt`"
            )));
        }
        seconds.forecast += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let increment: Vec<f64> = analysis[2]
            .iter()
            .zip(&forecast)
            .map(|(a, f)| (a - f) / case.model.dt)
            .collect();
        // With noisy data the library is evaluated on the state one step *before* the forecast
        // starts: its noise is independent of the noise in the increment, whose (n2 − n1)/dt
        // would otherwise correlate with the linear columns of u1 + n1 and bias them by
        // O(σ²/dt) (errors in variables). Noise-free, the start state itself is used.
        let library_state = if noise > 0.0 {
            &analysis[0]
        } else {
            &analysis[1]
        };
        let mut columns = library.evaluate(&mut grid, library_state)?;
        if assimilation == AssimilationMethod::None {
            kept_samples.push((analysis.clone(), columns.clone()));
        }
        // φ(dt·L) is applied in spectral space: inside the projection when projecting (one
        // transform per column), on the grid otherwise.
        match projection_modes {
            Some(modes) => {
                let (rows, target) =
                    project_sample(&mut grid, &columns, &increment, modes, phi.as_deref())?;
                stats.add(rows.view(), Array1::from(target).view())?;
            }
            None => {
                if let Some(phi) = &phi {
                    apply_multiplier(&mut grid, phi, &mut columns);
                }
                stats.add(columns.view(), Array1::from(increment.clone()).view())?
            }
        }
        if k == 0 {
            // The reconstruction plot needs the physical columns with φ applied.
            if let (Some(phi), Some(_)) = (&phi, projection_modes) {
                apply_multiplier(&mut grid, phi, &mut columns);
            }
            first_increment = increment;
            first_columns = Some(columns);
        }
        seconds.regression += clock.elapsed().as_secs_f64();
    }
    progress("regression");
    let clock = Instant::now();
    let settings = RvmSettings {
        method: case.regression.method.parse()?,
        prune_alpha: case.regression.prune_alpha,
        tolerance: case.regression.tolerance,
        ..RvmSettings::default()
    };
    let mut result = fit(&stats, &settings)?;
    // Refinement: the model corrected by the discovered terms re-forecasts every pair, and what
    // is left of the increment is fitted on the same terms (least squares). A large error makes
    // the model's own φ(dt·L) an O(dt·error) approximation; each pass shrinks that bias by the
    // size of the remaining error. Not for ensemble analyses (their increments are the filter's).
    if !kept_samples.is_empty() && !result.retained.is_empty() {
        progress("refinement");
        for _ in 0..REFINEMENT_PASSES {
            let discovered: Vec<(Term, f64)> = result
                .retained
                .iter()
                .map(|&i| (library.terms()[i].clone(), result.coefficients[i]))
                .collect();
            let Ok(corrected) = KsModel::new(ks_params(case, sum_rhs(&model_rhs, &discovered)))
            else {
                break; // a discovered term the solver cannot integrate: keep the first fit
            };
            let phi_corrected = case
                .library
                .propagator
                .then(|| propagator(corrected.linear_operator(), case.model.dt));
            let mut corrected_forecaster = KsForecaster::new(corrected, scheme, case.model.dt)?;
            let mut residual_stats = NormalEquations::new(library.names());
            for (analysis, columns) in &kept_samples {
                if corrected_forecaster
                    .forecast(Some(&analysis[0]), &analysis[1], &mut forecast)
                    .is_err()
                {
                    break;
                }
                let residual: Vec<f64> = analysis[2]
                    .iter()
                    .zip(&forecast)
                    .map(|(a, f)| (a - f) / case.model.dt)
                    .collect();
                match projection_modes {
                    Some(modes) => {
                        let (rows, target) = project_sample(
                            &mut grid,
                            columns,
                            &residual,
                            modes,
                            phi_corrected.as_deref(),
                        )?;
                        residual_stats.add(rows.view(), Array1::from(target).view())?;
                    }
                    None => {
                        let mut columns = columns.clone();
                        if let Some(phi) = &phi_corrected {
                            apply_multiplier(&mut grid, phi, &mut columns);
                        }
                        residual_stats.add(columns.view(), Array1::from(residual).view())?;
                    }
                }
            }
            if residual_stats.rows != stats.rows {
                break;
            }
            match least_squares_on(&residual_stats, &result.retained) {
                Some(update) => {
                    for (&i, delta) in result.retained.iter().zip(update) {
                        result.coefficients[i] += delta;
                    }
                }
                None => break,
            }
        }
    }
    let (low, high, count) = SWEEP_THRESHOLDS;
    let sweep = threshold_sweep(&stats, &settings, &log_thresholds(low, high, count))?;
    seconds.regression += clock.elapsed().as_secs_f64();

    let expected = difference(&truth_rhs, &model_rhs);
    let discovered: Vec<(Term, f64)> = result
        .retained
        .iter()
        .map(|&i| (library.terms()[i].clone(), result.coefficients[i]))
        .collect();
    let corrected_rhs = sum_rhs(&model_rhs, &discovered);
    let columns = first_columns.expect("at least one sample");
    let reconstruction: Vec<f64> = (0..points)
        .map(|n| {
            result
                .retained
                .iter()
                .map(|&j| columns[[n, j]] * result.coefficients[j])
                .sum::<f64>()
                + result.intercept
        })
        .collect();

    progress("forecast skill");
    let skill = forecast_skill(
        case,
        &model_rhs,
        &corrected_rhs,
        &truth_rhs,
        &observed[0][1],
    )
    .ok();
    let sample_rows: Vec<usize> = starts
        .iter()
        .map(|s| snapshots.steps.binary_search(s).expect("kept"))
        .collect();
    let sample_states = Array2::from_shape_fn((pairs, points), |(k, n)| {
        snapshots.states[[sample_rows[k], n]]
    });
    Ok(Discovery {
        name: case.name.clone(),
        equation: Equation::from_fit("u_t error", &result),
        expected: expected.iter().map(|(t, c)| (t.to_string(), *c)).collect(),
        corrected: corrected_rhs
            .iter()
            .map(|(t, c)| (t.to_string(), *c))
            .collect(),
        pairs,
        rows: stats.rows,
        projection_modes,
        assimilation: assimilation.name(),
        seconds,
        skill,
        x,
        sample_times: starts.iter().map(|&s| s as f64 * case.truth.dt).collect(),
        sample_states,
        increment: first_increment,
        reconstruction,
        sweep,
        fit: result,
    })
}

fn derivatives_of(case: &Case) -> Derivatives {
    if case.library.derivatives == "finite-difference" {
        Derivatives::FiniteDifference
    } else {
        Derivatives::Spectral
    }
}

/// a − b term by term, zeros dropped.
fn difference(a: &[(Term, f64)], b: &[(Term, f64)]) -> Vec<(Term, f64)> {
    let negated: Vec<(Term, f64)> = b.iter().map(|(t, c)| (t.clone(), -c)).collect();
    sum_rhs(a, &negated)
}

/// a + b term by term, zeros dropped, in a's order then b's.
fn sum_rhs(a: &[(Term, f64)], b: &[(Term, f64)]) -> Vec<(Term, f64)> {
    let mut out: Vec<(Term, f64)> = a.to_vec();
    for (t, c) in b {
        match out.iter_mut().find(|(u, _)| u == t) {
            Some((_, v)) => *v += c,
            None => out.push((t.clone(), *c)),
        }
    }
    out.retain(|(_, c)| *c != 0.0);
    out
}

/// Integrates truth, imperfect and corrected models (ETDRK4 at the truth step) from the same
/// analysed state and records their relative errors against the truth.
fn forecast_skill(
    case: &Case,
    model_rhs: &[(Term, f64)],
    corrected_rhs: &[(Term, f64)],
    truth_rhs: &[(Term, f64)],
    start: &[f64],
) -> Result<ForecastSkill> {
    let make = |rhs: &[(Term, f64)]| -> Result<Etdrk4> {
        Ok(Etdrk4::new(
            KsModel::new(ks_params(case, rhs.to_vec()))?,
            case.truth.dt,
        )?)
    };
    let mut truth = make(truth_rhs)?;
    let mut imperfect = make(model_rhs)?;
    let corrected = make(corrected_rhs);
    let every = (SKILL_INTERVAL / case.truth.dt).round() as usize;
    let count = (SKILL_HORIZON / SKILL_INTERVAL).round() as usize;
    let steps: Vec<usize> = (0..=count).map(|i| i * every).collect();
    let truth_run = run_with_snapshots(&mut truth, start, &steps)?;
    let imperfect_run = run_with_snapshots(&mut imperfect, start, &steps);
    let errors = |run: &Snapshots| -> Vec<f64> {
        (0..run.states.nrows())
            .map(|i| {
                relative_error(
                    run.states.row(i).as_slice().unwrap(),
                    truth_run.states.row(i).as_slice().unwrap(),
                )
            })
            .collect()
    };
    let to_half = |e: &[f64]| {
        e.iter()
            .position(|&v| v >= 0.5)
            .map(|i| i as f64 * SKILL_INTERVAL)
    };
    let imperfect_error = match &imperfect_run {
        Ok(run) => errors(run),
        Err(_) => vec![f64::INFINITY; steps.len()],
    };
    let (corrected_error, corrected_failure) =
        match corrected.and_then(|mut c| Ok(run_with_snapshots(&mut c, start, &steps)?)) {
            Ok(run) => (errors(&run), None),
            Err(e) => (vec![f64::INFINITY; steps.len()], Some(e.to_string())),
        };
    Ok(ForecastSkill {
        times: steps.iter().map(|&s| s as f64 * case.truth.dt).collect(),
        imperfect_time_to_half: to_half(&imperfect_error),
        corrected_time_to_half: to_half(&corrected_error),
        imperfect_error,
        corrected_error,
        corrected_failure,
    })
}

/// The observed grid points of a sparse operator (None: every point). A random set is drawn
/// once from the case's seed and kept for all times.
fn observed_points(case: &Case) -> Result<Option<Vec<usize>>> {
    let points = case.system.points;
    match &case.observations.operator {
        Operator::Every { every } if *every > 1 => {
            Ok(Some((0..points).step_by(*every).collect()))
        }
        Operator::Random { random } if *random < points => {
            let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
            rng.set_stream(u64::MAX);
            let mut chosen = rand::seq::index::sample(&mut rng, points, *random).into_vec();
            chosen.sort_unstable();
            Ok(Some(chosen))
        }
        Operator::Named(name) if name != "full" => Err(MedidaError::Config(format!(
            "`observations.operator` = \"{name}\": use \"full\", {{ every = k }} or {{ random = n }}"
        ))),
        _ => Ok(None),
    }
}

/// How the analysis at t + dt is made.
#[derive(Clone, Debug, PartialEq)]
enum AssimilationMethod {
    /// The (low-passed) observation itself: the measured best for full observations.
    None,
    /// An ensemble of one-step forecasts from perturbed start states, analysed by a filter.
    Ensemble(EnsembleFilter),
}

#[derive(Clone, Debug, PartialEq)]
enum EnsembleFilter {
    Enkf,
    Etkf,
    Letkf { radius: f64 },
}

impl AssimilationMethod {
    fn from_case(case: &Case) -> Result<Self> {
        let settings = &case.assimilation;
        let filter = match settings.method.as_str() {
            // Measured (medida.md, README): with full observations, projection onto the modes
            // above the noise floor beats an isolated-pair ensemble at any affordable size.
            "auto" | "none" => return Ok(AssimilationMethod::None),
            "enkf" => EnsembleFilter::Enkf,
            "etkf" => EnsembleFilter::Etkf,
            "letkf" => {
                if !(settings.localization.is_finite() && settings.localization > 0.0) {
                    return Err(MedidaError::Config(format!(
                        "`assimilation.localization` = {}: the LETKF needs a positive Gaspari–Cohn half-width (x units)",
                        settings.localization
                    )));
                }
                let dx = case.system.length / case.system.points as f64;
                EnsembleFilter::Letkf {
                    radius: settings.localization / dx / GASPARI_COHN_WIDTH,
                }
            }
            other => {
                return Err(MedidaError::Config(format!(
                    "`assimilation.method` = \"{other}\": expected \"auto\", \"none\", \"enkf\", \"etkf\" or \"letkf\""
                )))
            }
        };
        if case.observations.noise <= 0.0 {
            return Err(MedidaError::Config(format!(
                "`assimilation.method` = \"{}\" needs `observations.noise` > 0 (a filter weighs the observations by their error variance)",
                settings.method
            )));
        }
        if settings.members < 2 {
            return Err(MedidaError::Config(format!(
                "`assimilation.members` = {}: an ensemble filter needs at least 2",
                settings.members
            )));
        }
        if !(settings.perturbation.is_finite() && settings.perturbation > 0.0) {
            return Err(MedidaError::Config(format!(
                "`assimilation.perturbation` = {}: must be positive",
                settings.perturbation
            )));
        }
        Ok(AssimilationMethod::Ensemble(filter))
    }

    fn name(&self) -> String {
        match self {
            AssimilationMethod::None => "none".into(),
            AssimilationMethod::Ensemble(EnsembleFilter::Enkf) => "enkf".into(),
            AssimilationMethod::Ensemble(EnsembleFilter::Etkf) => "etkf".into(),
            AssimilationMethod::Ensemble(EnsembleFilter::Letkf { .. }) => "letkf".into(),
        }
    }
}

/// The paper's isolated-pair assimilation: members start from the start states plus one
/// N(0, perturbation²) field each (the same at t − dt and t, so two-level schemes see a
/// consistent history), make one imperfect-model step in parallel, and the filter combines
/// them with the observations at t + dt (`sensors`: where and how noisy). Returns the
/// analysis mean.
fn ensemble_analysis(
    case: &Case,
    filter: &EnsembleFilter,
    forecaster: &KsForecaster,
    start: [&[f64]; 2],
    sensors: &Observation,
    observed: &[f64],
    sample: u64,
) -> Result<Vec<f64>> {
    let settings = &case.assimilation;
    let n = sensors.state_size();
    let members = settings.members;
    let mut ensemble = DMatrix::zeros(n, members);
    ensemble
        .as_mut_slice()
        .par_chunks_mut(n)
        .enumerate()
        .try_for_each_init(
            || (forecaster.clone(), vec![0.0; n], vec![0.0; n]),
            |(forecaster, previous, current), (member, next)| -> Result<()> {
                let mut rng = stream(case.seed, sample, member as u64, Purpose::InitialSpread);
                let perturbation = standard_normals(&mut rng, n);
                for i in 0..n {
                    previous[i] = start[0][i] + settings.perturbation * perturbation[i];
                    current[i] = start[1][i] + settings.perturbation * perturbation[i];
                }
                forecaster
                    .forecast(Some(previous), current, next)
                    .map_err(|e| {
                        MedidaError::Config(format!(
                            "member {member} of the forecast ensemble of sample {sample} failed: {e}"
                        ))
                    })
            },
        )?;
    let inflation = settings.inflation;
    let seed = case.seed;
    match filter {
        EnsembleFilter::Enkf => StochasticEnkf {
            inflation,
            seed,
            ..Default::default()
        }
        .analyse(&mut ensemble, sensors, observed, sample)?,
        EnsembleFilter::Etkf => Etkf {
            inflation,
            ..Default::default()
        }
        .analyse(&mut ensemble, sensors, observed, sample)?,
        EnsembleFilter::Letkf { radius } => Letkf {
            inflation,
            radius: *radius,
            geometry: Geometry::Periodic1d { points: n },
        }
        .analyse(&mut ensemble, sensors, observed, sample)?,
    }
    Ok(mean(&ensemble).as_slice().to_vec())
}

/// Refinement passes after the first fit (see `run`).
pub const REFINEMENT_PASSES: usize = 2;

/// Centred least squares of the target on the columns `support` of accumulated statistics;
/// None when the system is singular or not finite.
fn least_squares_on(stats: &NormalEquations, support: &[usize]) -> Option<Vec<f64>> {
    let n = stats.rows as f64;
    if n == 0.0 {
        return None;
    }
    let k = support.len();
    let gram = nalgebra::DMatrix::from_fn(k, k, |a, b| {
        let (i, j) = (support[a], support[b]);
        stats.gram[[i, j]] - stats.column_sums[i] * stats.column_sums[j] / n
    });
    let rhs = nalgebra::DVector::from_fn(k, |a, _| {
        let i = support[a];
        stats.projection[i] - stats.column_sums[i] * stats.target_sum / n
    });
    let solution = gram.cholesky()?.solve(&rhs);
    solution
        .iter()
        .all(|v| v.is_finite())
        .then(|| solution.iter().copied().collect())
}
