//! The 1-D Kuramoto–Sivashinsky family (Chaos 2022): `u_t = Σ c_j term_j` on a periodic
//! domain. Truth by ETDRK4 at a fine step, pairs (t − Δt, t, t + Δt) from its snapshots, the
//! imperfect model one CNAB2/ETDRK4/RK4 step; the library `u^p ∂^d u`; the row map the
//! model's φ(Δt·L) on every column and projection onto the Fourier modes above the noise
//! floor (or the modes the sensors determine).

use crate::assimilation::Geometry;
use crate::case::{section, Case, Projection, SystemSections};
use crate::error::{MedidaError, Result};
use crate::library::rows::{
    apply_multiplier, low_pass, noise_floor_modes, project_sample, propagator,
};
use crate::library::terms_1d::{Derivatives, TermLibrary};
use crate::observe::spectral_1d::SpectralLeastSquares;
use crate::pipeline::discovery::Sample;
use crate::random::{standard_normals, stream, Purpose};
use crate::regression::rvm::RvmFit;
use crate::solvers::term::parse_rhs;
use crate::solvers::{
    medida_initial_state, resume_with_snapshots, run_with_snapshots, Checkpoint, Etdrk4,
    KsForecaster, KsModel, KsParams, Scheme, Snapshots, Spectral1d, Term,
};
use crate::systems::{
    reject_library_keys, Correction, Dynamics, FirstPair, Forecast, MemberForecast, Rows, System,
    TruePair,
};
use ndarray::Array2;
use num_complex::Complex64;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// `[system]` of a KS case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KsSystem {
    pub kind: String,
    /// Periodic domain length L (x in [−L/2, L/2)).
    pub length: f64,
    pub points: usize,
    /// "medida" = −cos(2πx/L)(1 + sin(−2πx/L)), or "random" (16 smooth modes from the seed).
    pub initial: String,
    /// 2/3-rule dealiasing of the solvers' nonlinear terms.
    pub dealias: bool,
}

impl Default for KsSystem {
    fn default() -> Self {
        KsSystem {
            kind: "ks".into(),
            length: 100.0,
            points: 1024,
            initial: "medida".into(),
            dealias: true,
        }
    }
}

/// `[truth]`: the "real" system, integrated with ETDRK4.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KsTruth {
    pub rhs: BTreeMap<String, f64>,
    pub dt: f64,
    /// Time discarded before sampling.
    pub spinup: f64,
    /// Time window after spin-up from which sample pairs are drawn.
    pub duration: f64,
}

impl Default for KsTruth {
    fn default() -> Self {
        KsTruth {
            rhs: [("u*u_x", -1.0), ("u_xx", -1.0), ("u_xxxx", -1.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            dt: 1e-3,
            spinup: 100.0,
            duration: 200.0,
        }
    }
}

/// `[model]`: the imperfect model whose error is sought.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KsModelSettings {
    pub rhs: BTreeMap<String, f64>,
    /// "cnab2" | "etdrk4" | "rk4".
    pub scheme: String,
    /// One forecast step.
    pub dt: f64,
}

impl Default for KsModelSettings {
    fn default() -> Self {
        KsModelSettings {
            rhs: [("u_xx", -1.0), ("u_xxxx", -1.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            scheme: "cnab2".into(),
            dt: 5e-3,
        }
    }
}

/// Everything of a case that only the KS family reads.
#[derive(Clone, Debug, Default)]
pub struct KsSettings {
    pub system: KsSystem,
    pub truth: KsTruth,
    pub model: KsModelSettings,
}

/// How many forecast-skill states are recorded, and how far apart (model time units).
const SKILL_INTERVAL: f64 = 0.5;
const SKILL_STATES: usize = 100;

impl KsSettings {
    pub fn parse(sections: SystemSections, library: &crate::case::Library) -> Result<Self> {
        if !sections.interpolation.is_empty() {
            return Err(MedidaError::Config(
                "`[interpolation]` configures the QG interpolators; KS cases fit sensors by spectral least squares and take no such section".into(),
            ));
        }
        reject_library_keys(
            library,
            &["max_derivative", "max_power", "derivatives"],
            "ks",
        )?;
        Ok(KsSettings {
            system: section("system", &sections.system)?,
            truth: section("truth", &sections.truth)?,
            model: section("model", &sections.model)?,
        })
    }

    pub fn validate(&self, case: &Case) -> Result<()> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        if !matches!(self.system.initial.as_str(), "medida" | "random") {
            return bad(
                "system.initial",
                format!("`{}`: use \"medida\" or \"random\"", self.system.initial),
            );
        }
        for (key, value) in [
            ("system.length", self.system.length),
            ("truth.dt", self.truth.dt),
            ("truth.duration", self.truth.duration),
            ("model.dt", self.model.dt),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(key, format!("{value} must be positive and finite"));
            }
        }
        if !(self.truth.spinup.is_finite() && self.truth.spinup >= 0.0) {
            return bad(
                "truth.spinup",
                format!("{} must be non-negative and finite", self.truth.spinup),
            );
        }
        if let Some(d) = &case.library.derivatives {
            if !matches!(d.as_str(), "spectral" | "finite-difference") {
                return bad(
                    "library.derivatives",
                    format!("`{d}`: use \"spectral\" or \"finite-difference\""),
                );
            }
        }
        self.model
            .scheme
            .parse::<Scheme>()
            .map_err(|e| MedidaError::Config(format!("`model.scheme`: {e}")))?;
        for (key, rhs) in [
            ("truth.rhs", &self.truth.rhs),
            ("model.rhs", &self.model.rhs),
        ] {
            for name in rhs.keys() {
                name.parse::<Term>()
                    .map_err(|e| MedidaError::Config(format!("`{key}`: {e}")))?;
            }
        }
        for name in &case.library.terms {
            name.parse::<Term>()
                .map_err(|e| MedidaError::Config(format!("`library.terms`: {e}")))?;
        }
        let ratio = self.model.dt / self.truth.dt;
        if (ratio - ratio.round()).abs() > 1e-9 * ratio || ratio.round() < 1.0 {
            return bad(
                "model.dt",
                format!(
                    "{} must be a whole multiple of truth.dt = {}",
                    self.model.dt, self.truth.dt
                ),
            );
        }
        let steps = (self.truth.spinup + self.truth.duration) / self.truth.dt;
        if !case.observations.from_data() && steps > crate::systems::MAX_TRUTH_STEPS {
            return bad(
                "truth.duration",
                format!(
                    "the truth run (spin-up {} + duration {}) is {steps:.1e} steps of {}: more than the {:.0e} medida integrates in one run; shorten it or lengthen truth.dt",
                    self.truth.spinup,
                    self.truth.duration,
                    self.truth.dt,
                    crate::systems::MAX_TRUTH_STEPS
                ),
            );
        }
        // Every pair spans its history, two start levels and its end, model steps apart; the
        // pairs share the truth window, which must hold them without overlap.
        if !case.observations.from_data() {
            let history = case.assimilation.history();
            let span = (history + 2) as f64 * self.model.dt;
            let per_pair = self.truth.duration / case.observations.pairs.max(1) as f64;
            if per_pair < span {
                return bad(
                    "truth.duration",
                    format!(
                        "{} for {} pairs leaves {per_pair:.3e} per pair, less than the {span:.3e} a pair spans ({} model steps of {}): lengthen truth.duration or use fewer pairs",
                        self.truth.duration,
                        case.observations.pairs,
                        history + 2,
                        self.model.dt
                    ),
                );
            }
        }
        Ok(())
    }
}

fn rhs_of(map: &BTreeMap<String, f64>) -> Result<Vec<(Term, f64)>> {
    Ok(parse_rhs(map.iter().map(|(k, v)| (k.as_str(), *v)))?)
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

fn named(rhs: &[(Term, f64)]) -> Vec<(String, f64)> {
    rhs.iter().map(|(t, c)| (t.to_string(), *c)).collect()
}

/// Truth runs are deterministic in their inputs: runs of several cases in one process share
/// them.
fn truth_cache() -> &'static Mutex<HashMap<String, Arc<Snapshots>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Snapshots>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The truth steps of a run's pairs: pair k starts at `starts[k]` (the model's t), with
/// `history` earlier levels and the level before t one model step (`ratio` truth steps)
/// apart, and an end after each of `windows` model steps.
struct Schedule<'a> {
    ratio: usize,
    history: usize,
    windows: &'a [usize],
    starts: Vec<usize>,
    dt: f64,
}

impl Schedule<'_> {
    fn earlier(&self, s: usize) -> impl Iterator<Item = usize> + '_ {
        (1..=self.history)
            .rev()
            .map(move |j| s - self.ratio * (1 + j))
    }
    fn ends(&self, s: usize) -> impl Iterator<Item = usize> + '_ {
        self.windows.iter().map(move |w| s + self.ratio * w)
    }

    /// The earliest truth step pair `k` needs.
    fn first_step(&self, k: usize) -> usize {
        self.starts[k] - self.ratio * (1 + self.history)
    }

    /// Every truth step the pairs `range` need, ascending.
    fn wanted(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        let mut wanted: Vec<usize> = self.starts[range]
            .iter()
            .flat_map(|&s| {
                self.earlier(s)
                    .chain([s - self.ratio, s])
                    .chain(self.ends(s))
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }

    /// The pairs `range` from snapshots holding (at least) their steps.
    fn pairs(&self, range: std::ops::Range<usize>, snapshots: &Snapshots) -> Vec<TruePair<f64>> {
        let at = |step: usize| -> Vec<f64> {
            let row = snapshots.steps.binary_search(&step).expect("snapshot kept");
            snapshots.states.row(row).to_vec()
        };
        self.starts[range]
            .iter()
            .map(|&s| {
                let mut ends = self.ends(s).map(at);
                TruePair {
                    history: self.earlier(s).map(at).collect(),
                    start: vec![at(s - self.ratio), at(s)],
                    end: ends.next().expect("a window"),
                    other_ends: ends.collect(),
                    time: s as f64 * self.dt,
                }
            })
            .collect()
    }
}

/// A KS-family case as a plug-in of the pipeline.
pub struct Ks {
    settings: KsSettings,
    seed: u64,
    truth_rhs: Vec<(Term, f64)>,
    model_rhs: Vec<(Term, f64)>,
    scheme: Scheme,
    propagator: bool,
    projection: Projection,
    grid: Spectral1d,
    library: TermLibrary,
    /// The modes the sensors determine (their spectral least-squares fit), if sparse.
    fitted_modes: Option<usize>,
    /// The noise gain of that fit per mode.
    noise_gain: Option<Vec<f64>>,
    /// The Fourier modes the row map projects onto (None: pointwise rows).
    projection_modes: Option<usize>,
    /// Whether the start states are low-passed to the projected modes (noisy data).
    low_pass_states: bool,
    /// Where the truth run stood at the start of each range of pairs streamed so far.
    checkpoints: std::collections::BTreeMap<usize, Checkpoint>,
}

/// The imperfect or corrected one-step forecaster and its propagator φ(Δt·L).
#[derive(Clone)]
pub struct KsStep {
    forecaster: KsForecaster,
    phi: Option<Vec<Complex64>>,
}

impl Forecast for KsStep {
    type Value = f64;
    fn forecast(&mut self, start: &[Vec<f64>], out: &mut Vec<f64>) -> Result<()> {
        let current = start.last().expect("a start level");
        out.resize(current.len(), 0.0);
        let previous = (start.len() > 1).then(|| start[start.len() - 2].as_slice());
        Ok(self.forecaster.forecast(previous, current, out)?)
    }
}

impl MemberForecast for KsForecaster {
    fn forecast(&mut self, start: &[&[f64]], out: &mut [f64]) -> Result<()> {
        let previous = (start.len() > 1).then(|| start[start.len() - 2]);
        Ok(KsForecaster::forecast(
            self,
            previous,
            start[start.len() - 1],
            out,
        )?)
    }
    fn boxed_clone(&self) -> Box<dyn MemberForecast> {
        Box::new(self.clone())
    }
}

impl Ks {
    pub fn new(case: &Case, settings: &KsSettings) -> Result<Self> {
        let derivatives = match case.library.derivatives.as_deref() {
            Some("finite-difference") => Derivatives::FiniteDifference,
            _ => Derivatives::Spectral,
        };
        let library = if case.library.terms.is_empty() {
            TermLibrary::polynomial(
                case.library.max_power.unwrap_or(4),
                case.library.max_derivative.unwrap_or(4),
                false,
                derivatives,
            )?
        } else {
            let names: Vec<&str> = case.library.terms.iter().map(|s| s.as_str()).collect();
            TermLibrary::from_names(&names, derivatives)?
        };
        let points = settings.system.points;
        if library
            .terms()
            .iter()
            .any(|t| t.max_derivative() as usize >= points / 2)
        {
            return Err(MedidaError::Config(format!(
                "`library.max_derivative` = {}: too high for a grid of {points} points",
                library
                    .terms()
                    .iter()
                    .map(|t| t.max_derivative())
                    .max()
                    .unwrap_or(0)
            )));
        }
        Ok(Ks {
            truth_rhs: rhs_of(&settings.truth.rhs)?,
            model_rhs: rhs_of(&settings.model.rhs)?,
            scheme: settings.model.scheme.parse()?,
            propagator: case.library.propagator(),
            projection: case.regression.projection.clone(),
            grid: Spectral1d::new(points, settings.system.length)?,
            library,
            seed: case.seed,
            settings: settings.clone(),
            fitted_modes: None,
            noise_gain: None,
            projection_modes: None,
            low_pass_states: false,
            checkpoints: Default::default(),
        })
    }

    fn params(&self, rhs: Vec<(Term, f64)>) -> KsParams {
        KsParams {
            length: self.settings.system.length,
            points: self.settings.system.points,
            rhs,
            dealias: self.settings.system.dealias,
            conservative: true,
        }
    }

    /// The model's rhs plus discovered terms (one component: u).
    fn corrected_rhs(&self, correction: &Correction) -> Result<Vec<(Term, f64)>> {
        let discovered = correction
            .first()
            .map(|terms| {
                terms
                    .iter()
                    .map(|(name, c)| Ok((name.parse::<Term>()?, *c)))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(sum_rhs(&self.model_rhs, &discovered))
    }

    fn initial_state(&self, x: &[f64]) -> Vec<f64> {
        let length = self.settings.system.length;
        if self.settings.system.initial != "random" {
            return medida_initial_state(x, length);
        }
        // Smooth random state: the 16 lowest modes with random amplitudes and phases.
        let mut rng = stream(self.seed, 0, 0, Purpose::InitialState);
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

    /// Truth snapshots at the wanted steps (ETDRK4 at the truth's step), cached.
    /// Which truth steps the pairs of a run are made of.
    fn schedule<'a>(&self, count: usize, history: usize, windows: &'a [usize]) -> Schedule<'a> {
        let s = &self.settings;
        let ratio = (s.model.dt / s.truth.dt).round() as usize;
        let spinup = ((s.truth.spinup / s.truth.dt).round() as usize).max(ratio * (1 + history));
        let window = (s.truth.duration / s.truth.dt).round() as usize;
        Schedule {
            ratio,
            history,
            windows,
            starts: (0..count).map(|k| spinup + k * window / count).collect(),
            dt: s.truth.dt,
        }
    }

    fn snapshots(&self, wanted: &[usize]) -> Result<Arc<Snapshots>> {
        let s = &self.settings;
        let key = format!(
            "{:?}|{}|{}|{}|{}|{}|{}|{:?}",
            self.truth_rhs,
            s.system.length,
            s.system.points,
            s.system.dealias,
            s.system.initial,
            self.seed,
            s.truth.dt,
            wanted
        );
        if let Some(cached) = truth_cache().lock().expect("cache lock").get(&key) {
            return Ok(Arc::clone(cached));
        }
        let u0 = self.initial_state(&self.grid.coordinates());
        let mut stepper = Etdrk4::new(
            KsModel::new(self.params(self.truth_rhs.clone()))?,
            s.truth.dt,
        )?;
        let snapshots = Arc::new(run_with_snapshots(&mut stepper, &u0, wanted).map_err(|e| {
            MedidaError::Config(format!(
                "the truth run failed: {e} (check `truth.rhs` and `truth.dt`)"
            ))
        })?);
        truth_cache()
            .lock()
            .expect("cache lock")
            .insert(key, Arc::clone(&snapshots));
        Ok(snapshots)
    }
}

impl System for Ks {
    type Value = f64;
    type Columns = Array2<f64>;
    type Forecaster = KsStep;

    fn kind(&self) -> &'static str {
        "ks"
    }
    fn components(&self) -> Vec<String> {
        vec!["u".into()]
    }
    fn observed_fields(&self) -> Vec<String> {
        vec!["u".into()]
    }
    fn grid_points(&self) -> usize {
        self.settings.system.points
    }
    fn grid_spacing(&self) -> f64 {
        self.settings.system.length / self.settings.system.points as f64
    }
    fn geometry(&self) -> Geometry {
        Geometry::Periodic1d {
            points: self.settings.system.points,
        }
    }
    fn dt(&self) -> f64 {
        self.settings.model.dt
    }
    fn start_levels(&self) -> usize {
        2
    }
    fn library_names(&self) -> Vec<String> {
        self.library.names()
    }
    fn check_design(&self, _pairs: usize) -> Result<()> {
        Ok(())
    }

    /// Pairs spread evenly over the window after spin-up: truth at t − Δt, t and at the end of
    /// every window after t.
    fn truth_pairs(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
    ) -> Result<Vec<TruePair<f64>>> {
        let schedule = self.schedule(count, history, windows);
        let snapshots = self.snapshots(&schedule.wanted(0..count))?;
        Ok(schedule.pairs(0..count, &snapshots))
    }

    /// Resumes the truth run from checkpoints: each pair from the last one at or before its
    /// first state. The first pass over a range runs through it and leaves checkpoints at
    /// the first states of its pairs (of every one while they take at most
    /// [`super::CHECKPOINT_BYTES`], else of evenly spaced ones) and at the next range's.
    fn truth_pairs_in(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
        range: std::ops::Range<usize>,
    ) -> Result<Vec<TruePair<f64>>> {
        let schedule = self.schedule(count, history, windows);
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let modes = self.settings.system.points / 2 + 1;
        let bytes = modes as f64 * 16.0;
        let every = ((count as f64 * bytes / super::CHECKPOINT_BYTES).ceil() as usize).max(1);
        let mut stepper = Etdrk4::new(
            KsModel::new(self.params(self.truth_rhs.clone()))?,
            self.settings.truth.dt,
        )?;
        // Pairs resumed from the same checkpoint form one run.
        let mut runs: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for k in range.clone() {
            let from = self
                .checkpoints
                .range(..=schedule.first_step(k))
                .next_back()
                .map(|(&s, _)| s);
            match runs.last_mut() {
                Some((f, pairs)) if *f == from => pairs.push(k),
                _ => runs.push((from, vec![k])),
            }
        }
        let mut snapshots = Vec::new();
        for (from, pairs) in runs {
            let from = match from {
                Some(step) => self.checkpoints[&step].clone(),
                None => {
                    let u0 = self.initial_state(&self.grid.coordinates());
                    Checkpoint::initial(&mut stepper, &u0)?
                }
            };
            let wanted = schedule.wanted(pairs[0]..pairs[pairs.len() - 1] + 1);
            let mut then: Vec<usize> = pairs
                .iter()
                .filter(|&&k| k % every == 0)
                .map(|&k| schedule.first_step(k))
                .collect();
            if range.end < count {
                then.push(schedule.first_step(range.end));
            }
            then.retain(|s| !self.checkpoints.contains_key(s) && *s >= from.step);
            then.sort_unstable();
            then.dedup();
            let (run, checkpoints) = resume_with_snapshots(&mut stepper, &from, &wanted, &then)
                .map_err(|e| {
                    MedidaError::Config(format!(
                        "the truth run failed: {e} (check `truth.rhs` and `truth.dt`)"
                    ))
                })?;
            for c in checkpoints {
                self.checkpoints.insert(c.step, c);
            }
            snapshots.extend(schedule.pairs(pairs[0]..pairs[pairs.len() - 1] + 1, &run));
        }
        Ok(snapshots)
    }

    fn expected(&self) -> Vec<Vec<(String, f64)>> {
        let negated: Vec<(Term, f64)> = self
            .model_rhs
            .iter()
            .map(|(t, c)| (t.clone(), -c))
            .collect();
        vec![named(&sum_rhs(&self.truth_rhs, &negated))]
    }

    fn observe(&mut self, state: &[f64]) -> Vec<Vec<f64>> {
        vec![state.to_vec()]
    }
    fn state_from(&mut self, fields: &[Vec<f64>]) -> Result<Vec<f64>> {
        Ok(fields[0].clone())
    }

    /// Spectral least squares on n/4 Fourier modes through the n sensors.
    /// Spectral least squares on n/4 Fourier modes through the n sensors.
    fn interpolate(&mut self, sensors: &[usize], values: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        let points = self.grid_points();
        let fit = SpectralLeastSquares::new(
            points,
            self.settings.system.length,
            sensors,
            (sensors.len() / 4).min(points / 2 - 1),
        )?;
        self.fitted_modes = Some(fit.modes());
        self.noise_gain = Some(fit.noise_gain(points));
        Ok(values.iter().map(|v| fit.fit(v)).collect())
    }
    fn interpolator_label(&self) -> String {
        "spectral least squares".into()
    }
    fn perturbation(&mut self, field: &[f64], std: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
        standard_normals(rng, field.len())
            .into_iter()
            .map(|z| std * z)
            .collect()
    }
    fn member_forecaster(&self) -> Result<Box<dyn MemberForecast>> {
        Ok(Box::new(KsForecaster::new(
            KsModel::new(self.params(self.model_rhs.clone()))?,
            self.scheme,
            self.settings.model.dt,
        )?))
    }

    /// Projection onto the modes above the noise floor (exact for both sides of g = Θc);
    /// with sparse data never above the modes the sensors determine.
    fn plan_rows(&mut self, estimates: &[Vec<f64>], noise: f64) -> Result<()> {
        let fitted = self.fitted_modes;
        // A least-squares fit through the sensors amplifies their noise mode by mode (most
        // in the modes the sensors' gaps leave poorly determined): its own noise gain says how.
        let gain = self.noise_gain.as_deref();
        let grid = &mut self.grid;
        let mut noise_modes = || noise_floor_modes(grid, estimates, noise, gain);
        self.projection_modes = match (&self.projection, fitted) {
            (Projection::Modes(n), fitted) => Some(fitted.map_or(*n, |f| f.min(*n))),
            (Projection::Named(n), None) if n == "none" => None,
            (Projection::Named(n), Some(_)) if n == "none" => {
                return Err(MedidaError::Config(
                    "`regression.projection` = \"none\" with sparse observations: the increment is only known on the Fourier modes the observed points determine; use \"auto\" or a number of modes".into(),
                ))
            }
            (_, None) if noise == 0.0 => None,
            (_, None) => Some(noise_modes()),
            (_, Some(fitted)) if noise == 0.0 => Some(fitted),
            (_, Some(fitted)) => Some(noise_modes().min(fitted)),
        };
        self.low_pass_states = noise > 0.0 && self.projection_modes.is_some();
        Ok(())
    }
    fn row_map_label(&self) -> String {
        let phi = if self.propagator {
            "φ(Δt·L) on the columns"
        } else {
            "no propagator"
        };
        match self.projection_modes {
            Some(m) => format!("Fourier modes 1..={m}, {phi}"),
            None => format!("pointwise, {phi}"),
        }
    }
    fn projection_modes(&self) -> Option<usize> {
        self.projection_modes
    }
    fn smooth(&mut self, state: &mut [f64]) {
        if let (Some(modes), true) = (self.projection_modes, self.low_pass_states) {
            low_pass(&mut self.grid, state, modes);
        }
    }

    fn forecaster(&mut self, correction: &Correction) -> Result<KsStep> {
        let model = KsModel::new(self.params(self.corrected_rhs(correction)?))?;
        let phi = self
            .propagator
            .then(|| propagator(model.linear_operator(), self.settings.model.dt));
        Ok(KsStep {
            forecaster: KsForecaster::new(model, self.scheme, self.settings.model.dt)?,
            phi,
        })
    }
    fn columns(&mut self, state: &[f64]) -> Result<Array2<f64>> {
        self.library.evaluate(&mut self.grid, state)
    }
    /// φ(Δt·L) is applied in spectral space: inside the projection when projecting (one
    /// transform per column), on the grid otherwise.
    fn rows(
        &mut self,
        columns: &Array2<f64>,
        increment: &[f64],
        forecaster: Option<&KsStep>,
    ) -> Result<Rows> {
        let phi = forecaster.and_then(|f| f.phi.as_deref());
        Ok(match self.projection_modes {
            Some(modes) => {
                let (columns, target) =
                    project_sample(&mut self.grid, columns, increment, modes, phi)?;
                Rows {
                    columns,
                    targets: vec![target],
                }
            }
            None => {
                let mut columns = columns.clone();
                if let Some(phi) = phi {
                    apply_multiplier(&mut self.grid, phi, &mut columns);
                }
                Rows {
                    columns,
                    targets: vec![increment.to_vec()],
                }
            }
        })
    }

    fn sensitivity_columns(&self, _: usize, sensitivities: &[Vec<f64>]) -> Array2<f64> {
        let points = self.grid_points();
        Array2::from_shape_fn((points, sensitivities.len()), |(i, j)| sensitivities[j][i])
    }

    fn corrected_model(&self, correction: &Correction) -> Vec<Vec<(String, f64)>> {
        vec![named(
            &self
                .corrected_rhs(correction)
                .unwrap_or_else(|_| self.model_rhs.clone()),
        )]
    }
    fn skill_schedule(&self) -> (f64, usize) {
        (SKILL_INTERVAL, SKILL_STATES)
    }
    /// ETDRK4 at the truth's step for every dynamics.
    fn trajectory(&self, dynamics: Dynamics, start: &[f64]) -> Result<Vec<Vec<f64>>> {
        let rhs = match dynamics {
            Dynamics::Truth => self.truth_rhs.clone(),
            Dynamics::Imperfect => self.model_rhs.clone(),
            Dynamics::Corrected(c) => self.corrected_rhs(c)?,
        };
        let dt = self.settings.truth.dt;
        let integrate = || -> Result<Vec<Vec<f64>>> {
            let mut stepper = Etdrk4::new(KsModel::new(self.params(rhs.clone()))?, dt)?;
            let every = (SKILL_INTERVAL / dt).round() as usize;
            let steps: Vec<usize> = (0..=SKILL_STATES).map(|i| i * every).collect();
            let run = run_with_snapshots(&mut stepper, start, &steps)?;
            Ok(run.states.rows().into_iter().map(|r| r.to_vec()).collect())
        };
        match dynamics {
            Dynamics::Truth => {
                let s = &self.settings.system;
                let key = format!(
                    "ks|{:?}|{}|{}|{}|{dt}",
                    self.truth_rhs, s.length, s.points, s.dealias
                );
                crate::systems::truth_trajectory(&key, start, integrate)
            }
            _ => integrate(),
        }
    }

    fn figures(
        &mut self,
        pairs: &[TruePair<f64>],
        first: &FirstPair<Self>,
        forecaster: &KsStep,
        fits: &[RvmFit],
    ) -> Result<Sample> {
        // The reconstruction uses the physical columns with the imperfect model's φ applied
        // (sensitivity columns are propagated already).
        let mut columns = first.columns_of(0).clone();
        if let (Some(phi), false) = (&forecaster.phi, first.propagated) {
            apply_multiplier(&mut self.grid, phi, &mut columns);
        }
        let fit = &fits[0];
        let reconstruction = (0..columns.nrows())
            .map(|n| {
                fit.retained
                    .iter()
                    .map(|&j| columns[[n, j]] * fit.coefficients[j])
                    .sum::<f64>()
                    + fit.intercept
            })
            .collect();
        let points = self.grid_points();
        let states: Vec<f64> = pairs
            .iter()
            .flat_map(|p| p.start.last().expect("a start level").clone())
            .collect();
        Ok(Sample::Line {
            x: self.grid.coordinates(),
            sample_times: pairs.iter().map(|p| p.time).collect(),
            sample_states: Array2::from_shape_vec((pairs.len(), points), states)
                .expect("pairs × points"),
            increment: first.increment.clone(),
            reconstruction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::SystemSettings;

    fn ks(case: &Case) -> &KsSettings {
        match &case.system {
            SystemSettings::Ks(s) => s,
            _ => panic!("a KS case"),
        }
    }

    #[test]
    fn empty_file_takes_the_defaults() {
        let case = Case::from_toml("").unwrap();
        assert_eq!(ks(&case).system.points, 1024);
        assert_eq!(ks(&case).model.scheme, "cnab2");
        assert_eq!(case.regression.projection, Projection::Named("auto".into()));
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        for (text, key) in [
            ("[model]\nrhs = { \"u_y\" = 1.0 }\n", "u_y"),
            (
                "[assimilation]\nmethod = \"enkf\"\n[observations]\nnoise = 0.0\n",
                "assimilation.method",
            ),
            (
                "[assimilation]\nmethod = \"enkf\"\nmembers = 1\n",
                "assimilation.members",
            ),
            ("[model]\ndt = 0.0\n", "model.dt"),
            ("[model]\ndt = 0.0025\n[truth]\ndt = 0.001\n", "model.dt"),
            (
                "[regression]\nprojection = \"some\"\n",
                "regression.projection",
            ),
            (
                "[system]\nkind = \"ks\"\ninitial = \"flat\"\n",
                "system.initial",
            ),
            ("[system]\nkind = \"lorenz\"\n", "system.kind"),
        ] {
            let err = Case::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn operator_forms_parse() {
        use crate::case::Operator;
        let case = Case::from_toml("[observations]\noperator = { every = 4 }\n").unwrap();
        assert_eq!(case.observations.operator, Operator::Every { every: 4 });
        let case = Case::from_toml("[regression]\nprojection = 50\n").unwrap();
        assert_eq!(case.regression.projection, Projection::Modes(50));
    }
}
