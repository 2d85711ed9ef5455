//! The one MEDIDA pipeline, for every [`System`]:
//! pairs → state estimate (as observed / interpolated from sensors / ensemble analysis) →
//! one imperfect forecast → increment (analysis − forecast)/Δt → library columns → row map →
//! normal equations → regression and threshold choice → refinement → corrected-model
//! forecast check → [`Discovery`] (report and figures). Pairs a window of several model steps
//! apart (noisy data, [`window`]) regress the window's increment on sensitivity columns
//! instead, with Gauss–Newton and a second selection.

pub mod analysis;
pub mod discovery;
pub mod gather;
pub mod observe;
pub mod pairs;
pub mod refine;
pub mod skill;
pub mod window;

use crate::case::{Case, PruneAlpha};
use crate::error::{MedidaError, Result};
use crate::regression::equation::Equation;
use crate::regression::normal_equations::NormalEquations;
use crate::regression::resample::Blocks;
use crate::regression::rvm::{RvmFit, RvmSettings};
use crate::regression::sweep::{select, Selection};
use crate::systems::{Correction, FirstPair, Forecast, Rows, System, Value};
use analysis::{EnsembleFilter, Estimate};
pub use discovery::{
    ComponentDiscovery, Discovery, FileValidation, ForecastSkill, Sample, Timings,
};
use gather::{Gathered, Source};
use observe::ObservedPair;
use pairs::{Made, PairSet, Preparation, Streamed, PLAN_PAIRS};
use std::time::Instant;

/// A forecast that grew by more than this factor in one step has blown up (an explicit
/// scheme far outside its stability region can grow by 1e50 without overflowing).
pub const BLOW_UP: f64 = 1e6;

/// The callback each stage reports to (a line such as "truth run" or "pair 3/100"); an
/// error it returns (e.g. [`crate::MedidaError::Interrupted`]) stops the run there.
pub type Progress<'a> = &'a dyn Fn(&str) -> Result<()>;

/// Runs one case on one system end to end.
pub fn run<S: System>(case: &Case, system: &mut S, progress: Progress) -> Result<Discovery> {
    let mut seconds = Timings::default();
    let clock = Instant::now();
    let history = case.assimilation.history();
    let gathered = if case.observations.from_data() {
        gather::from_file(case, system, history, progress)?
    } else {
        gather::twin(case, system, history, progress)?
    };
    let Gathered {
        source,
        truth_known,
        sensors,
        noise,
        file,
        window,
        window_choice,
    } = gathered;
    seconds.truth = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let preparation = Preparation::of(case, sensors.as_deref());
    // The row map is planned on the first pairs' raw estimates, which are then smoothed as
    // it sees them and, with a filter, analysed.
    let (made, twin) = match source {
        Source::Held(made) => (made, None),
        Source::Streamed(twin) => (
            twin.make(system, 0..twin.count.min(PLAN_PAIRS))?,
            Some(twin),
        ),
    };
    let Made {
        truth,
        mut observed,
        mut estimates,
    } = made;
    let validation_start = estimates[0].start.clone();
    plan_rows(system, &estimates, noise)?;
    let count = twin.as_ref().map_or(estimates.len(), |t| t.count);
    if twin.is_some() {
        // Streamed: the first pair is prepared now, the rest on every pass.
        estimates.truncate(1);
        if let Some(o) = observed.as_mut() {
            o.truncate(1);
        }
    }
    preparation.apply(
        system,
        &mut estimates,
        observed.as_deref(),
        0,
        count,
        progress,
    )?;
    drop(observed);
    let pairs = match twin {
        None => PairSet::Held {
            estimates,
            shown: pairs::shown_pairs(truth),
        },
        Some(twin) => PairSet::Streamed(Box::new(Streamed {
            twin,
            preparation,
            first: estimates.swap_remove(0),
            shown: Default::default(),
        })),
    };
    let skill_start = validation_start.last().expect("a start level").clone();
    seconds.assimilation = clock.elapsed().as_secs_f64();

    let forecaster = system.forecaster(&Correction::new())?;
    let choice = case.regression.prune_alpha();
    let fitted = if window == 1 {
        one_step(
            case,
            system,
            forecaster,
            &pairs,
            noise,
            &mut seconds,
            progress,
        )?
    } else {
        windowed(case, system, &pairs, window, &mut seconds, progress)?
    };
    let Fitted {
        stats,
        selections,
        fits,
        refinement,
        first,
        forecaster,
    } = fitted;

    progress("forecast skill")?;
    let clock = Instant::now();
    let correction = correction_of(&fits);
    let skill = if truth_known {
        skill::forecast_skill(system, &correction, &skill_start)
    } else {
        None
    };
    let file = file.map(|source| {
        let (imperfect_error, _) =
            skill::forecast_against(system, &Correction::new(), &validation_start, &source.later);
        let (corrected_error, corrected_failure) =
            skill::forecast_against(system, &correction, &validation_start, &source.later);
        FileValidation {
            path: source.path.display().to_string(),
            pairs_available: source.available,
            noise_estimate: source.noise_estimate,
            times: source
                .later
                .iter()
                .map(|(steps, _)| *steps as f64 * system.dt())
                .collect(),
            imperfect_error,
            corrected_error,
            corrected_failure,
        }
    });
    seconds.skill = clock.elapsed().as_secs_f64();
    let sample = match &first {
        Some(first) => Some(system.figures(&pairs.shown(), first, &forecaster, &fits)?),
        None => None,
    };
    let expected = if truth_known {
        system.expected()
    } else {
        Vec::new()
    };
    let corrected = system.corrected_model(&correction);
    let components = system
        .components()
        .into_iter()
        .zip(fits)
        .zip(selections)
        .enumerate()
        .map(|(c, ((name, fit), selection))| ComponentDiscovery {
            equation: Equation::from_fit(&format!("{name}_t error"), &fit),
            name,
            fit,
            expected: expected.get(c).cloned().unwrap_or_default(),
            corrected: corrected[c].clone(),
            sweep: selection.sweep,
            prune_alpha: selection.prune_alpha,
            automatic: choice == PruneAlpha::Auto,
            unsupported: selection.unsupported,
            stability: selection.stability,
        })
        .collect();
    let mut discovery = Discovery {
        name: case.name.clone(),
        system: system.kind(),
        components,
        pairs: pairs.len(),
        rows: stats.rows(),
        projection_modes: system.projection_modes(),
        row_map: system.row_map_label(),
        assimilation: case.assimilation.method.name().into(),
        members: case
            .assimilation
            .method
            .is_ensemble()
            .then_some(case.assimilation.members),
        noise,
        interpolator: sensors.as_ref().map(|_| system.interpolator_label()),
        sensors,
        seconds,
        skill,
        sample,
        file,
        warnings: Vec::new(),
        window,
        dt: system.dt(),
        window_choice,
        streamed: match &pairs {
            PairSet::Streamed(s) => Some(s.twin.range),
            PairSet::Held { .. } => None,
        },
    };
    discovery.warnings = discovery::warnings(&discovery, refinement);
    Ok(discovery)
}

/// What the regression stage leaves.
struct Fitted<S: System> {
    stats: NormalEquationsPerComponent,
    selections: Vec<Selection>,
    fits: Vec<RvmFit>,
    /// The last refinement pass's largest relative update.
    refinement: Option<f64>,
    first: Option<FirstPair<S>>,
    /// The imperfect forecaster (for the figures).
    forecaster: S::Forecaster,
}

/// Pairs one model step apart: library columns at the state with the model's one-step
/// propagator, selection, then refinement.
fn one_step<S: System>(
    case: &Case,
    system: &mut S,
    mut forecaster: S::Forecaster,
    pairs: &PairSet<S::Value>,
    noise: f64,
    seconds: &mut Timings,
    progress: Progress,
) -> Result<Fitted<S>> {
    let accumulated = accumulate(system, &mut forecaster, pairs, noise, seconds, progress)?;
    progress("regression")?;
    let clock = Instant::now();
    let selections = regress(case, case.regression.prune_alpha(), &accumulated.stats)?;
    let mut fits: Vec<RvmFit> = selections.iter().map(|s| s.fit.clone()).collect();
    let mut refinement = None;
    let ensemble = case.assimilation.method.is_ensemble();
    if !ensemble && fits.iter().any(|f| !f.retained.is_empty()) {
        progress("refinement")?;
        refinement = refine::refine(system, pairs, noise, &mut fits, accumulated.stats.rows())?;
    }
    seconds.regression += clock.elapsed().as_secs_f64();
    Ok(Fitted {
        stats: accumulated.stats,
        selections,
        fits,
        refinement,
        first: accumulated.first,
        forecaster,
    })
}

/// Pairs a window of `steps` model steps apart: sensitivity columns of the window's forecast
/// linearised around the imperfect model, selection, Gauss–Newton on the selected terms; then
/// the selection again on columns linearised around the corrected model, until it no longer
/// changes ([`window::SELECTIONS`] at most). Ensemble analyses get the first selection only
/// (their increments are the filter's).
fn windowed<S: System>(
    case: &Case,
    system: &mut S,
    pairs: &PairSet<S::Value>,
    steps: usize,
    seconds: &mut Timings,
    progress: Progress,
) -> Result<Fitted<S>> {
    let clock = Instant::now();
    let terms = system.library_names().len();
    let all: Vec<Vec<usize>> = vec![(0..terms).collect(); system.components().len()];
    let ensemble = case.assimilation.method.is_ensemble();
    let known = window::DifferenceSteps::default();
    // The first selection, on the whole increment linearised around the imperfect model.
    let pass = window::Pass::<S> {
        correction: &Correction::new(),
        terms: &all,
        steps,
        total: true,
        blocks: true,
        known: &known,
        // Streamed, the columns are made again rather than kept.
        keep_rows: !ensemble && !pairs.streamed(),
        _system: std::marker::PhantomData,
    };
    let (stats, (increment, columns), kept) = pass.run(system, pairs, progress)?;
    let first = Some(FirstPair {
        start: pairs.first().start.last().expect("a start level").clone(),
        increment,
        columns,
        propagated: true,
    });
    progress("regression")?;
    let selections = regress(case, case.regression.prune_alpha(), &stats)?;
    let mut fits: Vec<RvmFit> = selections.iter().map(|s| s.fit.clone()).collect();
    let mut refinement = None;
    if !ensemble {
        let selected = fits.clone();
        refinement = window::fit_support(system, pairs, &mut fits, steps, &known, progress)?;
        // Then the selection again on what is left: a small term next to a large one shows
        // only once the large one is fitted. On the first pass's columns while Gauss–Newton
        // moved the selected coefficients little (the imperfect model's linearisation held);
        // on columns linearised around the corrected model once it moved them far.
        let moved = window::largest_change(&selected, &fits);
        for _ in 1..window::SELECTIONS {
            let correction = correction_of(&fits);
            let residual = if moved <= window::LINEARISATION_HELD {
                let kept = (!pairs.streamed()).then_some(&kept);
                window::residual_stats(system, pairs, &correction, steps, kept, &known)
            } else {
                let pass = window::Pass::<S> {
                    correction: &correction,
                    terms: &all,
                    steps,
                    total: false,
                    blocks: true,
                    known: &known,
                    keep_rows: false,
                    _system: std::marker::PhantomData,
                };
                pass.run(system, pairs, progress).map(|(stats, _, _)| stats)
            };
            let Ok(residual) = residual else {
                break;
            };
            let found = regress(case, case.regression.prune_alpha(), &residual)?;
            let before: Vec<Vec<usize>> = fits.iter().map(|f| f.retained.clone()).collect();
            let mut added: Vec<Vec<usize>> = vec![Vec::new(); fits.len()];
            for ((fit, more), added) in fits.iter_mut().zip(&found).zip(added.iter_mut()) {
                for &j in &more.fit.retained {
                    if !fit.retained.contains(&j) {
                        fit.retained.push(j);
                        fit.coefficients[j] = more.fit.coefficients[j];
                        fit.std[j] = more.fit.std[j];
                        fit.alpha[j] = more.fit.alpha[j];
                        added.push(j);
                    }
                }
                fit.retained.sort_unstable();
            }
            if added.iter().all(|a| a.is_empty()) {
                break;
            }
            refinement = window::fit_support(system, pairs, &mut fits, steps, &known, progress)?;
            let now: Vec<Vec<usize>> = fits.iter().map(|f| f.retained.clone()).collect();
            if now == before {
                break;
            }
        }
    }
    seconds.regression += clock.elapsed().as_secs_f64();
    Ok(Fitted {
        stats,
        selections,
        fits,
        refinement,
        first,
        forecaster: system.forecaster(&Correction::new())?,
    })
}

/// The ensemble analysis at the end of every pair replaces the estimate there (`estimates`
/// are the pairs from number `first` on, of `pairs`).
pub(crate) fn assimilate<S: System>(
    preparation: &Preparation,
    system: &mut S,
    estimates: &mut [Estimate<S::Value>],
    observed: &[ObservedPair],
    first: usize,
    pairs: usize,
    progress: Progress,
) -> Result<()> {
    let settings = &preparation.assimilation;
    let name = settings.method.name();
    let member = system.member_forecaster()?;
    let filter = EnsembleFilter {
        settings,
        seed: preparation.seed,
        member_forecaster: member.as_ref(),
        sensors: preparation.sensors.as_deref(),
    };
    for (i, (estimate, pair)) in estimates.iter_mut().zip(observed).enumerate() {
        let k = first + i;
        progress(&format!("{name} analyses, pair {}/{pairs}", k + 1))?;
        if settings.cycles == 0 {
            let end = pair.last().expect("an end level");
            let analysis = filter.isolated(system, estimate, end, k)?;
            estimate.end = state_of_stacked(system, &analysis)?;
        } else {
            let mut means = filter.cycled(system, estimate, pair, k)?.into_iter();
            for level in estimate
                .start
                .iter_mut()
                .chain(std::iter::once(&mut estimate.end))
            {
                *level = state_of_stacked(system, &means.next().expect("a mean per level"))?;
            }
        }
    }
    Ok(())
}

/// Plans the row map on the states at t of the first [`PLAN_PAIRS`] pairs.
fn plan_rows<S: System>(
    system: &mut S,
    estimates: &[Estimate<S::Value>],
    noise: f64,
) -> Result<()> {
    let at_t: Vec<Vec<S::Value>> = estimates
        .iter()
        .take(PLAN_PAIRS)
        .map(|e| e.start.last().expect("a start level").clone())
        .collect();
    system.plan_rows(&at_t, noise)
}

/// The state whose stacked observed fields these are, smoothed as the row map sees it.
fn state_of_stacked<S: System>(system: &mut S, stacked: &[f64]) -> Result<Vec<S::Value>> {
    let fields: Vec<Vec<f64>> = stacked
        .chunks_exact(system.grid_points())
        .map(|f| f.to_vec())
        .collect();
    let mut state = system.state_from(&fields)?;
    system.smooth(&mut state);
    Ok(state)
}

/// Normal equations of every component over the same columns, in total and by blocks of
/// pairs (for the bootstrap and the held-out score).
pub struct NormalEquationsPerComponent {
    pub components: Vec<NormalEquations>,
    pub blocks: Vec<Blocks>,
}

impl NormalEquationsPerComponent {
    pub fn new(names: &[String], components: usize) -> Self {
        NormalEquationsPerComponent {
            components: (0..components)
                .map(|_| NormalEquations::new(names.to_vec()))
                .collect(),
            blocks: (0..components)
                .map(|_| Blocks::new(names.to_vec()))
                .collect(),
        }
    }

    /// Adds rows to the totals only.
    pub fn add(&mut self, rows: Rows) -> Result<()> {
        for (stats, target) in self.components.iter_mut().zip(&rows.targets) {
            stats.add(
                rows.columns.view(),
                ndarray::ArrayView1::from(target.as_slice()),
            )?;
        }
        Ok(())
    }

    /// Adds the rows of pair `k` of `pairs` to the totals and to its block.
    pub fn add_pair(&mut self, k: usize, pairs: usize, rows: Rows) -> Result<()> {
        for ((total, blocks), target) in self
            .components
            .iter_mut()
            .zip(self.blocks.iter_mut())
            .zip(&rows.targets)
        {
            let mut stats = NormalEquations::new(total.names().to_vec());
            stats.add(
                rows.columns.view(),
                ndarray::ArrayView1::from(target.as_slice()),
            )?;
            total.merge(&stats)?;
            blocks.add(k, pairs, &stats)?;
        }
        Ok(())
    }

    /// Adds the rows of component `c` of pair `k` of `pairs` (columns of its own) to its
    /// total and block.
    pub fn add_component_pair(
        &mut self,
        c: usize,
        k: usize,
        pairs: usize,
        columns: ndarray::ArrayView2<f64>,
        target: ndarray::ArrayView1<f64>,
    ) -> Result<()> {
        let mut stats = NormalEquations::new(self.components[c].names().to_vec());
        stats.add(columns, target)?;
        self.components[c].merge(&stats)?;
        self.blocks[c].add(k, pairs, &stats)
    }

    /// Rows per component.
    pub fn rows(&self) -> usize {
        self.components[0].rows
    }
}

/// (end − forecast)/Δt.
pub fn increment<V: Value>(end: &[V], forecast: &[V], dt: f64) -> Vec<V> {
    end.iter()
        .zip(forecast)
        .map(|(a, f)| (*a - *f) / dt)
        .collect()
}

/// The discovered terms of the fits, per component.
pub fn correction_of(fits: &[RvmFit]) -> Correction {
    fits.iter()
        .map(|fit| {
            fit.retained
                .iter()
                .map(|&i| (fit.names[i].clone(), fit.coefficients[i]))
                .collect()
        })
        .collect()
}

/// What the pass over the pairs leaves: the statistics and the first pair for the figures
/// (the refinement walks the pairs again and re-derives their columns).
struct Accumulated<S: System> {
    stats: NormalEquationsPerComponent,
    first: Option<FirstPair<S>>,
}

/// One imperfect forecast per pair, its increment, the library and the row map, stacked into
/// the normal equations of every component.
fn accumulate<S: System>(
    system: &mut S,
    forecaster: &mut S::Forecaster,
    pairs: &PairSet<S::Value>,
    noise: f64,
    seconds: &mut Timings,
    progress: Progress,
) -> Result<Accumulated<S>> {
    let count = pairs.len();
    let mut stats =
        NormalEquationsPerComponent::new(&system.library_names(), system.components().len());
    let mut first = None;
    let mut forecast = Vec::new();
    pairs.for_each(system, |system, k, estimate| {
        progress(&format!("pair {}/{count}", k + 1))?;
        let clock = Instant::now();
        one_step_forecast(forecaster, &estimate.start, &mut forecast, k)?;
        seconds.forecast += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let increment = increment(&estimate.end, &forecast, system.dt());
        let columns = system.columns(library_state(estimate, noise))?;
        stats.add_pair(
            k,
            count,
            system.rows(&columns, &increment, Some(forecaster))?,
        )?;
        if k == 0 {
            first = Some(FirstPair {
                start: estimate.start.last().expect("a start level").clone(),
                increment,
                columns: vec![columns],
                propagated: false,
            });
        }
        seconds.regression += clock.elapsed().as_secs_f64();
        Ok(true)
    })?;
    Ok(Accumulated { stats, first })
}

/// The state the library is evaluated on. With noisy data the earliest start level when there
/// is one before t: its noise is independent of the noise in the increment, whose
/// (n2 − n1)/dt would otherwise correlate with the linear columns of u1 + n1 and bias them by
/// O(σ²/dt) (errors in variables). Noise-free, the state at t itself.
pub fn library_state<V>(estimate: &Estimate<V>, noise: f64) -> &[V] {
    if noise > 0.0 {
        &estimate.start[0]
    } else {
        estimate.start.last().expect("a start level")
    }
}

/// The imperfect model's one step from a pair's start; a failure or blow-up is an error.
fn one_step_forecast<F: Forecast>(
    forecaster: &mut F,
    start: &[Vec<F::Value>],
    forecast: &mut Vec<F::Value>,
    k: usize,
) -> Result<()>
where
    F::Value: Value,
{
    forecaster.forecast(start, forecast).map_err(|e| {
        MedidaError::Config(format!(
            "the imperfect model failed in its one-step forecast of pair {k}: {e} (check the [model] section)"
        ))
    })?;
    let last = start.last().expect("a start level");
    let size = last.iter().fold(1.0f64, |m, v| m.max(v.magnitude()));
    if forecast.iter().any(|v| v.magnitude() > BLOW_UP * size) {
        return Err(MedidaError::Config(format!(
            "the imperfect model blew up in its one-step forecast of pair {k} (the state grew by more than {BLOW_UP:e}; the solution is no longer finite in any useful sense): check the [model] section (its terms, scheme and dt)"
        )));
    }
    Ok(())
}

/// Per component: the threshold sweep and the chosen fit.
fn regress(
    case: &Case,
    choice: PruneAlpha,
    stats: &NormalEquationsPerComponent,
) -> Result<Vec<Selection>> {
    let settings = RvmSettings {
        method: case.regression.rvm_method()?,
        tolerance: case.regression.tolerance,
        ..RvmSettings::default()
    };
    stats
        .blocks
        .iter()
        .map(|blocks| select(blocks, &settings, choice, case.regression.knee, case.seed))
        .collect()
}
