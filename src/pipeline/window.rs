//! Windows of several model steps between the two observations of a pair.
//!
//! The noise of an increment (analysis − forecast)/T falls as 1/T with the window's length T;
//! a window of n steps regresses the window's increment on what each candidate term would do
//! over it: the sensitivity ∂x_n/∂c_j of the n-step forecast to adding c_j·term_j to the
//! model, by forward differences through the system's own corrected forecaster (generic:
//! every system supplies `forecaster(correction)`). For n = 1 the pipeline keeps the
//! library-at-the-state columns with the model's one-step propagator, to which the
//! sensitivities reduce to first order.
//!
//! The regression, the threshold choice and the uncertainties work on these columns
//! unchanged. The first selection is made on columns linearised around the imperfect model;
//! Gauss–Newton passes on the selected terms re-linearise around the corrected model until the
//! coefficients stop moving (terms within noise of zero are dropped on the way); then the
//! selection is made again on what is left of the increment, which finds a small term next to
//! a large one, and Gauss–Newton runs on the union ([`crate::pipeline`]'s `windowed`).
//! [`choose`] is `observations.interval = "auto"`.

use crate::error::{MedidaError, Result};
use crate::pipeline::analysis::Estimate;
use crate::pipeline::pairs::PairSet;
use crate::pipeline::{increment, NormalEquationsPerComponent};
use crate::regression::rvm::RvmFit;
use crate::systems::{Correction, Forecast, System, Value};
use ndarray::ArrayView1;
use rayon::prelude::*;

/// Candidate windows (model steps) of `observations.interval = "auto"`.
pub const CANDIDATES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// Relative change of the window's forecast one forward-difference step aims at: round-off
/// (1e-16 / h) and the forecast's curvature in the coefficient (≈ h) both stay near 1e-8.
pub const DIFFERENCE_STEP: f64 = 1e-8;

/// Gauss–Newton passes at most, the passes before the insignificant terms are first dropped,
/// and the relative update below which they stop (the forward differences leave updates of
/// about 1e-8; posterior std are 1e-3 and more).
pub const GAUSS_NEWTON_PASSES: usize = 8;
pub const FIRST_PASSES: usize = 3;
pub const GAUSS_NEWTON_TOLERANCE: f64 = 1e-6;

/// A selected term stays only if its Gauss–Newton coefficient is at least this many
/// posterior standard deviations from zero.
pub const SIGNIFICANCE: f64 = 3.0;

/// Largest relative change of a selected coefficient Gauss–Newton made, beyond which the
/// first pass's columns (linearised around the imperfect model) are not reused.
pub const LINEARISATION_HELD: f64 = 0.1;

/// The largest change from `before` to `after` of a coefficient retained in `before`,
/// relative to its value after (a term dropped counts as a full change).
pub fn largest_change(before: &[RvmFit], after: &[RvmFit]) -> f64 {
    before
        .iter()
        .zip(after)
        .flat_map(|(b, a)| {
            b.retained.iter().map(move |&j| {
                let (x, y) = (b.coefficients[j], a.coefficients[j]);
                (x - y).abs() / y.abs().max(1e-300)
            })
        })
        .fold(0.0, f64::max)
}

/// Drops the retained terms whose coefficient is within [`SIGNIFICANCE`] standard
/// deviations of zero (noise the selection let in); true if any was dropped.
pub fn drop_insignificant(fits: &mut [RvmFit]) -> bool {
    let mut dropped = false;
    for fit in fits.iter_mut() {
        let weak: Vec<usize> = fit
            .retained
            .iter()
            .copied()
            .filter(|&j| fit.coefficients[j].abs() < SIGNIFICANCE * fit.std[j])
            .collect();
        for j in weak {
            fit.retained.retain(|&i| i != j);
            fit.coefficients[j] = 0.0;
            dropped = true;
        }
    }
    dropped
}

/// Selections at most (the first on columns linearised around the imperfect model, each next
/// around the model corrected by the previous one).
pub const SELECTIONS: usize = 3;

/// The forecaster's `steps` steps from the start levels (oldest first), rolling the levels.
pub fn forecast<F: Forecast>(
    forecaster: &mut F,
    start: &[Vec<F::Value>],
    steps: usize,
    out: &mut Vec<F::Value>,
) -> Result<()>
where
    F::Value: Clone,
{
    if steps <= 1 {
        return forecaster.forecast(start, out);
    }
    let mut levels = start.to_vec();
    for _ in 0..steps {
        forecaster.forecast(&levels, out)?;
        levels.rotate_left(1);
        levels
            .last_mut()
            .expect("a start level")
            .clone_from_slice(out);
    }
    Ok(())
}

/// Root of the sum of squared magnitudes.
fn norm<V: Value>(x: &[V]) -> f64 {
    x.iter().map(|v| v.norm_sqr()).sum::<f64>().sqrt()
}

/// The forward-difference step of each (component, term), sized once on the first pass and
/// kept for the passes after it (the forecast's change per unit coefficient hardly depends on
/// the model it is linearised around).
pub type DifferenceSteps = std::cell::RefCell<std::collections::HashMap<(usize, usize), f64>>;

/// Per component, one state per perturbed term.
pub type PerComponentStates<V> = Vec<Vec<Vec<V>>>;

/// A window's forecast and its sensitivities.
pub type WindowForecast<V> = (Vec<V>, PerComponentStates<V>);

/// One perturbed model: component, library term, coefficient step and its forecaster.
struct Perturbed<F> {
    component: usize,
    step: f64,
    forecaster: F,
}

/// The model around which the window's forecast is linearised, and one forecaster per
/// perturbed term.
pub struct Sensitivity<S: System> {
    steps: usize,
    base: S::Forecaster,
    perturbed: Vec<Perturbed<S::Forecaster>>,
    components: usize,
}

/// `correction` with `step` added to term `name` of component `c`.
fn perturb(
    correction: &Correction,
    components: usize,
    c: usize,
    name: &str,
    step: f64,
) -> Correction {
    let mut out: Correction = (0..components)
        .map(|i| correction.get(i).cloned().unwrap_or_default())
        .collect();
    match out[c].iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v += step,
        None => out[c].push((name.to_string(), step)),
    }
    out
}

impl<S: System> Sensitivity<S> {
    /// The sensitivities around the model corrected by `correction`, for the terms `terms[c]`
    /// of each component c, over windows of `steps` steps; the difference steps are sized on
    /// `probe` (one pair's estimate).
    pub fn new(
        system: &mut S,
        correction: &Correction,
        terms: &[Vec<usize>],
        steps: usize,
        probe: &Estimate<S::Value>,
        known: &DifferenceSteps,
    ) -> Result<Self> {
        let names = system.library_names();
        let components = system.components().len();
        let mut base = system.forecaster(correction)?;
        let mut reference = Vec::new();
        let all_known = terms
            .iter()
            .enumerate()
            .all(|(c, t)| t.iter().all(|&j| known.borrow().contains_key(&(c, j))));
        if !all_known {
            forecast(&mut base, &probe.start, steps, &mut reference)?;
        }
        let size = norm(&reference).max(f64::MIN_POSITIVE);
        let mut perturbed = Vec::new();
        for (c, terms) in terms.iter().enumerate() {
            for &j in terms {
                if let Some(&step) = known.borrow().get(&(c, j)) {
                    let forecaster =
                        system.forecaster(&perturb(correction, components, c, &names[j], step))?;
                    perturbed.push(Perturbed {
                        component: c,
                        step,
                        forecaster,
                    });
                    continue;
                }
                let mut step = DIFFERENCE_STEP;
                let mut out = Vec::new();
                // Rescale the step until the forecast moves by about DIFFERENCE_STEP of its size.
                let forecaster = loop {
                    let mut f =
                        system.forecaster(&perturb(correction, components, c, &names[j], step))?;
                    forecast(&mut f, &probe.start, steps, &mut out)?;
                    let moved = norm(&crate::pipeline::increment(&out, &reference, 1.0)) / size;
                    let ratio = moved / DIFFERENCE_STEP;
                    if !(moved.is_finite()) {
                        return Err(MedidaError::Config(format!(
                            "the forecast's sensitivity to `{}` is not finite (the model with that term added blows up over the window)",
                            names[j]
                        )));
                    }
                    if moved == 0.0 || (0.1..=10.0).contains(&ratio) || step > 1e12 {
                        break f;
                    }
                    step /= ratio;
                };
                known.borrow_mut().insert((c, j), step);
                perturbed.push(Perturbed {
                    component: c,
                    step,
                    forecaster,
                });
            }
        }
        Ok(Sensitivity {
            steps,
            base,
            perturbed,
            components,
        })
    }

    /// The window's forecast from `start` and, per component, the sensitivity of the
    /// forecast to each of its perturbed terms (in the order they were asked for) divided by
    /// the window's length.
    pub fn at(&mut self, start: &[Vec<S::Value>], dt: f64) -> Result<WindowForecast<S::Value>> {
        let steps = self.steps;
        let mut reference = Vec::new();
        forecast(&mut self.base, start, steps, &mut reference)?;
        let length = steps as f64 * dt;
        let columns: Vec<(usize, Vec<S::Value>)> = self
            .perturbed
            .par_iter_mut()
            .map(|p| -> Result<_> {
                let mut out = Vec::new();
                forecast(&mut p.forecaster, start, steps, &mut out)?;
                Ok((p.component, increment(&out, &reference, p.step * length)))
            })
            .collect::<Result<_>>()?;
        let mut out = vec![Vec::new(); self.components];
        for (c, column) in columns {
            out[c].push(column);
        }
        Ok((reference, out))
    }
}

/// What one pass over the pairs with sensitivity columns adds: per component, the rows of
/// the window's increment around the model (plus, `total`, the linearised effect of the
/// model's own correction, so the coefficients come out whole) on the sensitivity columns.
pub struct Pass<'a, S: System> {
    pub correction: &'a Correction,
    /// The terms whose columns are computed, per component.
    pub terms: &'a [Vec<usize>],
    pub steps: usize,
    /// Add Σ_j S_j·c_j of the correction to the target (a fresh selection) or not (a
    /// Gauss–Newton update).
    pub total: bool,
    /// Keep blocks of pairs for the bootstrap and the held-out score.
    pub blocks: bool,
    pub known: &'a DifferenceSteps,
    /// Keep every pair's mapped columns (for [`residual_stats`]).
    pub keep_rows: bool,
    pub _system: std::marker::PhantomData<S>,
}

/// Every pair's mapped sensitivity columns, per component.
pub type KeptRows = Vec<Vec<ndarray::Array2<f64>>>;

/// The normal equations (with blocks) of what is left of every window's increment after the
/// model corrected by `correction`, on the columns of the first pass (linearised around the
/// imperfect model, over every term): `kept`, or made again when the pairs are streamed. One
/// forecast per pair when kept. The selection on it finds the terms the earlier selection
/// missed (the columns need only show which terms are there; Gauss–Newton re-linearises the
/// ones selected).
pub fn residual_stats<S: System>(
    system: &mut S,
    pairs: &PairSet<S::Value>,
    correction: &Correction,
    steps: usize,
    kept: Option<&KeptRows>,
    known: &DifferenceSteps,
) -> Result<NormalEquationsPerComponent> {
    let names = system.library_names();
    let components = system.components().len();
    let mut forecaster = system.forecaster(correction)?;
    let mut stats = NormalEquationsPerComponent::new(&names, components);
    let dt = system.dt();
    let length = steps as f64 * dt;
    let empty = system.sensitivity_columns(0, &[]);
    let all: Vec<Vec<usize>> = vec![(0..names.len()).collect(); components];
    let mut first_pass = match kept {
        Some(_) => None,
        None => Some(Sensitivity::new(
            system,
            &Correction::new(),
            &all,
            steps,
            pairs.first(),
            known,
        )?),
    };
    let mut out = Vec::new();
    let count = pairs.len();
    pairs.for_each(system, |system, k, estimate| {
        forecast(&mut forecaster, &estimate.start, steps, &mut out)?;
        let residual = increment(&estimate.end, &out, length);
        let targets = system.rows(&empty, &residual, None)?.targets;
        let made;
        let rows = match (kept, first_pass.as_mut()) {
            (Some(kept), _) => &kept[k],
            (None, Some(sensitivity)) => {
                let (_, columns) = sensitivity.at(&estimate.start, dt)?;
                made = columns
                    .iter()
                    .enumerate()
                    .map(|(c, s)| mapped_columns(system, c, s, &residual, &all[c], &names))
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .map(|(matrix, _)| matrix)
                    .collect::<Vec<_>>();
                &made
            }
            (None, None) => unreachable!("the first pass's columns are kept or made"),
        };
        for (c, matrix) in rows.iter().enumerate() {
            let target = ArrayView1::from(targets[c].as_slice());
            stats.add_component_pair(c, k, count, matrix.view(), target)?;
        }
        Ok(true)
    })?;
    Ok(stats)
}

/// Component `c`'s rows on every library term: the row map of the sensitivities to the
/// perturbed terms `wanted` (zero columns for the others) and of `target`.
fn mapped_columns<S: System>(
    system: &mut S,
    c: usize,
    sensitivities: &[Vec<S::Value>],
    target: &[S::Value],
    wanted: &[usize],
    names: &[String],
) -> Result<(ndarray::Array2<f64>, Vec<f64>)> {
    let columns = system.sensitivity_columns(c, sensitivities);
    let rows = system.rows(&columns, target, None)?;
    if wanted.len() == names.len() {
        return Ok((rows.columns, rows.targets[c].clone()));
    }
    let mut matrix = ndarray::Array2::zeros((rows.columns.nrows(), names.len()));
    for (i, &j) in wanted.iter().enumerate() {
        matrix.column_mut(j).assign(&rows.columns.column(i));
    }
    Ok((matrix, rows.targets[c].clone()))
}

/// The first pair's increment and sensitivity columns, for the figures.
pub type FirstColumns<S> = (Vec<<S as System>::Value>, Vec<<S as System>::Columns>);

impl<S: System> Pass<'_, S> {
    /// The normal equations of the pass over the pairs (and the first pair's increment and
    /// columns).
    pub fn run(
        &self,
        system: &mut S,
        pairs: &PairSet<S::Value>,
        progress: crate::pipeline::Progress,
    ) -> Result<(NormalEquationsPerComponent, FirstColumns<S>, KeptRows)> {
        let mut kept: KeptRows = Vec::new();
        let names = system.library_names();
        let components = system.components().len();
        let count = pairs.len();
        let mut sensitivity = Sensitivity::new(
            system,
            self.correction,
            self.terms,
            self.steps,
            pairs.first(),
            self.known,
        )?;
        let mut stats = NormalEquationsPerComponent::new(&names, components);
        let dt = system.dt();
        let mut first = None;
        pairs.for_each(system, |system, k, estimate| {
            progress(&format!("window sensitivities, pair {}/{count}", k + 1))?;
            let (forecast, columns) = sensitivity.at(&estimate.start, dt).map_err(|e| {
                MedidaError::Config(format!(
                    "the model failed in its window forecast of pair {k}: {e} (check the [model] section, or shorten observations.interval)"
                ))
            })?;
            let residual = increment(&estimate.end, &forecast, self.steps as f64 * dt);
            let mut figure_columns = Vec::new();
            let mut pair_rows = Vec::new();
            for (c, sensitivities) in columns.iter().enumerate() {
                let wanted = &self.terms[c];
                let mut target = residual.clone();
                if self.total {
                    for &(ref name, value) in self.correction.get(c).into_iter().flatten() {
                        let i = wanted
                            .iter()
                            .position(|&j| names[j] == *name)
                            .expect("a perturbed library term");
                        for (t, s) in target.iter_mut().zip(&sensitivities[i]) {
                            *t = *t + *s * value;
                        }
                    }
                }
                if k == 0 && wanted.len() == names.len() {
                    figure_columns.push(system.sensitivity_columns(c, sensitivities));
                }
                let (matrix, target) =
                    mapped_columns(system, c, sensitivities, &target, wanted, &names)?;
                let target = ArrayView1::from(target.as_slice());
                if self.blocks {
                    stats.add_component_pair(c, k, count, matrix.view(), target)?;
                } else {
                    stats.components[c].add(matrix.view(), target)?;
                }
                if self.keep_rows {
                    pair_rows.push(matrix);
                }
            }
            if k == 0 {
                first = Some((residual, figure_columns));
            }
            if self.keep_rows {
                kept.push(pair_rows);
            }
            Ok(true)
        })?;
        Ok((stats, first.expect("at least one pair"), kept))
    }
}

/// Gauss–Newton on the selected terms: a few passes, then the terms within noise of zero go
/// ([`drop_insignificant`]), then passes to convergence (again after any term goes). Returns
/// the last pass's largest relative update.
pub fn fit_support<S: System>(
    system: &mut S,
    pairs: &PairSet<S::Value>,
    fits: &mut [RvmFit],
    steps: usize,
    known: &DifferenceSteps,
    progress: crate::pipeline::Progress,
) -> Result<Option<f64>> {
    let mut passes =
        |fits: &mut [RvmFit], n| gauss_newton(system, pairs, fits, steps, known, n, progress);
    let mut last = passes(fits, FIRST_PASSES)?;
    let converged = |u: Option<f64>| u.is_some_and(|u| u < GAUSS_NEWTON_TOLERANCE);
    loop {
        let dropped = drop_insignificant(fits);
        if !dropped && converged(last) {
            return Ok(last);
        }
        last = passes(fits, GAUSS_NEWTON_PASSES)?.or(last);
        if !dropped {
            // Converged or out of passes; a term that now falls within noise still goes.
            if drop_insignificant(fits) {
                last = passes(fits, GAUSS_NEWTON_PASSES)?.or(last);
            }
            return Ok(last);
        }
    }
}

/// Gauss–Newton on the retained terms: each pass re-forecasts every window with the
/// corrected model and fits what is left of the increment on sensitivity columns linearised
/// around it, until the largest update relative to its coefficient falls below
/// [`GAUSS_NEWTON_TOLERANCE`]. Returns that last update (None: no pass completed).
pub fn gauss_newton<S: System>(
    system: &mut S,
    pairs: &PairSet<S::Value>,
    fits: &mut [RvmFit],
    steps: usize,
    known: &DifferenceSteps,
    passes: usize,
    progress: crate::pipeline::Progress,
) -> Result<Option<f64>> {
    let mut last = None;
    for _ in 0..passes {
        let correction = crate::pipeline::correction_of(fits);
        let terms: Vec<Vec<usize>> = fits.iter().map(|f| f.retained.clone()).collect();
        if terms.iter().all(|t| t.is_empty()) {
            break;
        }
        let pass = Pass::<S> {
            correction: &correction,
            terms: &terms,
            steps,
            total: false,
            blocks: false,
            known,
            keep_rows: false,
            _system: std::marker::PhantomData,
        };
        let Ok((stats, _, _)) = pass.run(system, pairs, progress) else {
            break; // the corrected model cannot be built or fails: keep the last update
        };
        let Some(largest) = crate::pipeline::refine::update(&stats, fits) else {
            break;
        };
        last = Some(largest);
        if largest < GAUSS_NEWTON_TOLERANCE {
            break;
        }
    }
    Ok(last)
}

/// Pairs the window choice looks at (the first of the run).
pub const PILOT_PAIRS: usize = 16;

/// The pairs of `pairs` the choice looks at.
pub fn pilot_pairs(pairs: usize) -> usize {
    pairs.min(PILOT_PAIRS)
}

/// What `observations.interval = "auto"` measured, per candidate window.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowChoice {
    /// Index of the chosen window among `windows`.
    #[serde(skip)]
    pub index: usize,
    pub windows: Vec<usize>,
    /// Mean square of the row-mapped increment of the imperfect model (signal and noise).
    pub increment: Vec<f64>,
    /// Mean square of the noise part of it, predicted by propagating draws of the
    /// observation noise through the same window.
    pub noise: Vec<f64>,
}

/// Noise of the observation-noise level added to the observed fields of `state`, mapped back
/// to a state and smoothed as the estimates are; returns the noisy state.
fn noisy<S: System>(
    system: &mut S,
    state: &[S::Value],
    noise: f64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<Vec<S::Value>> {
    let mut out = perturbed(system, state, noise, rng)?;
    system.smooth(&mut out);
    Ok(out)
}

/// `state` with white noise of relative size `noise` on its observed fields (not smoothed).
fn perturbed<S: System>(
    system: &mut S,
    state: &[S::Value],
    noise: f64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<Vec<S::Value>> {
    use rand::Rng;
    let fields: Vec<Vec<f64>> = system
        .observe(state)
        .into_iter()
        .map(|field| {
            let sigma = noise * crate::library::rows::std_of(&field);
            field
                .into_iter()
                .map(|v| v + sigma * rng.sample::<f64, _>(rand_distr::StandardNormal))
                .collect()
        })
        .collect();
    system.state_from(&fields)
}

/// Mean square of the row-mapped `increment` over the components.
fn mean_square<S: System>(system: &mut S, increment: &[S::Value]) -> Result<f64> {
    let columns = system.sensitivity_columns(0, &[]);
    let rows = system.rows(&columns, increment, None)?;
    let (sum, count) = rows
        .targets
        .iter()
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
    Ok(sum / count.max(1) as f64)
}

/// `observations.interval = "auto"`: the window of `trials` (candidate window, estimates of
/// the pilot pairs at it) whose increment is least dominated by noise. Per window: the mean
/// square V of the row-mapped increment of the imperfect model, and the mean square N of its
/// noise part, predicted by propagating fresh draws of the observation noise through the
/// window (the start's noise as the model carries it, the end's as observed). The signal
/// V − N is what the regression fits; the choice is the shortest window whose noise part is at
/// most [`NOISE_SHARE`] of the signal, else the one with the least share.
pub fn choose<S: System>(
    system: &mut S,
    trials: &[(usize, Vec<Estimate<S::Value>>)],
    noise: f64,
    seed: u64,
) -> Result<WindowChoice> {
    let at_t: Vec<Vec<S::Value>> = trials[0]
        .1
        .iter()
        .map(|e| e.start.last().expect("a start level").clone())
        .collect();
    system.plan_rows(&at_t, noise)?;
    let mut imperfect = system.forecaster(&Correction::new())?;
    let mut increments = Vec::new();
    let mut noises = Vec::new();
    for (i, (steps, estimates)) in trials.iter().enumerate() {
        match window_noise(system, &mut imperfect, *steps, estimates, noise, seed, i) {
            Ok((v, n)) => {
                increments.push(v);
                noises.push(n);
            }
            // The imperfect model does not survive this window (an unstable model's
            // round-off grows without bound): neither this window nor a longer one.
            Err(_) => break,
        }
    }
    if increments.is_empty() {
        return Err(MedidaError::Config(format!(
            "the imperfect model fails within {} model step(s) from the observed states, so no window can be used (check the [model] section and its dt)",
            trials[0].0
        )));
    }
    let share = |i: usize| {
        let signal = increments[i] - noises[i];
        if signal > 0.0 {
            noises[i] / signal
        } else {
            f64::INFINITY
        }
    };
    let usable = increments.len();
    let index = (0..usable)
        .find(|&i| share(i) <= NOISE_SHARE)
        .unwrap_or_else(|| {
            (0..usable)
                .min_by(|&a, &b| share(a).total_cmp(&share(b)))
                .expect("a candidate")
        });
    Ok(WindowChoice {
        index,
        windows: trials[..usable].iter().map(|t| t.0).collect(),
        increment: increments,
        noise: noises,
    })
}

/// The mean squares of the row-mapped increment of the imperfect model over windows of
/// `steps` from the pilot `estimates`, and of its noise part (see [`choose`]).
fn window_noise<S: System>(
    system: &mut S,
    imperfect: &mut S::Forecaster,
    steps: usize,
    estimates: &[Estimate<S::Value>],
    noise: f64,
    seed: u64,
    candidate: usize,
) -> Result<(f64, f64)> {
    let length = steps as f64 * system.dt();
    let (mut v, mut n) = (0.0, 0.0);
    for (k, estimate) in estimates.iter().enumerate() {
        let mut start = estimate.start.clone();
        let mut end = estimate.end.clone();
        for level in start.iter_mut() {
            system.smooth(level);
        }
        system.smooth(&mut end);
        let mut forecast_out = Vec::new();
        forecast(imperfect, &start, steps, &mut forecast_out)?;
        if k < GROWTH_PAIRS && steps > 1 {
            // The model's own growth of a small white perturbation of the start: the
            // round-off of every forecast grows alike, and the finite differences of the
            // sensitivity columns sink in it.
            let mut rng = crate::random::stream(
                seed,
                k as u64,
                (1 << 16) | candidate as u64,
                crate::random::Purpose::WindowChoice,
            );
            let tiny = start
                .iter()
                .map(|level| perturbed(system, level, GROWTH_PROBE, &mut rng))
                .collect::<Result<Vec<_>>>()?;
            let mut moved = Vec::new();
            forecast(imperfect, &tiny, steps, &mut moved)?;
            let before = norm(&increment(
                &tiny[tiny.len() - 1],
                &start[start.len() - 1],
                1.0,
            ));
            let growth =
                norm(&increment(&moved, &forecast_out, 1.0)) / before.max(f64::MIN_POSITIVE);
            if growth.is_nan() || growth > MAX_GROWTH {
                return Err(MedidaError::Config(format!(
                    "the imperfect model amplifies small perturbations by {growth:.1e} over {steps} steps"
                )));
            }
        }
        v += mean_square(system, &increment(&end, &forecast_out, length))?;
        // Fresh noise on every level, carried through the window from the start.
        let mut rng = crate::random::stream(
            seed,
            k as u64,
            candidate as u64,
            crate::random::Purpose::WindowChoice,
        );
        let noisy_start = start
            .iter()
            .map(|level| noisy(system, level, noise, &mut rng))
            .collect::<Result<Vec<_>>>()?;
        let noisy_end = noisy(system, &end, noise, &mut rng)?;
        let mut perturbed = Vec::new();
        forecast(imperfect, &noisy_start, steps, &mut perturbed)?;
        // (end noise) − (start noise carried by the model), over the window.
        let carried = increment(&perturbed, &forecast_out, 1.0);
        let end_noise = increment(&noisy_end, &end, 1.0);
        n += mean_square(system, &increment(&end_noise, &carried, length))?;
    }
    if !(v.is_finite() && n.is_finite()) {
        return Err(MedidaError::Config(
            "the window's forecast is not finite".into(),
        ));
    }
    let pairs = estimates.len().max(1) as f64;
    Ok((v / pairs, n / pairs))
}

/// Relative size of the perturbation whose growth bounds the window, the most growth a
/// window may have, and the pilot pairs it is measured on.
pub const GROWTH_PROBE: f64 = 1e-6;
pub const MAX_GROWTH: f64 = 1e3;
pub const GROWTH_PAIRS: usize = 4;

/// The largest share of the increment's mean square that noise may take in the chosen window.
pub const NOISE_SHARE: f64 = 5e-3;
