//! Systems are plug-ins of the one pipeline ([`crate::pipeline`]). A [`System`] says what
//! MEDIDA needs from a model of the world: its observed fields and regressed components, its
//! twin-experiment truth, its imperfect forecaster and the same forecaster corrected by
//! discovered terms, its library and its row map. The pipeline never asks which system it
//! runs. To add a system: a file here with its settings and its `System`, a variant of
//! [`SystemSettings`], and its solver in the solver crate.

pub mod ks;
pub mod qg;

use crate::assimilation::Geometry;
use crate::case::{Case, SystemSections};
use crate::error::Result;
use crate::pipeline::discovery::Sample;
use crate::pipeline::Progress;
use ndarray::Array2;
use num_complex::Complex64;
use rand_chacha::ChaCha8Rng;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Sub};

/// Most truth steps one run integrates (about an hour of a 1,024-point KS truth): beyond it
/// a case is refused rather than left running for days.
pub const MAX_TRUTH_STEPS: f64 = 1e8;

/// The numbers a system's state is made of (grid values or spectral coefficients).
pub trait Value:
    Copy
    + Send
    + Sync
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
    + 'static
{
    fn norm_sqr(self) -> f64;
    fn magnitude(self) -> f64;
}

impl Value for f64 {
    fn norm_sqr(self) -> f64 {
        self * self
    }
    fn magnitude(self) -> f64 {
        self.abs()
    }
}

impl Value for Complex64 {
    fn norm_sqr(self) -> f64 {
        Complex64::norm_sqr(&self)
    }
    fn magnitude(self) -> f64 {
        self.norm()
    }
}

/// A streamed run's truth checkpoints take at most this (a system whose truth is one long
/// run keeps where it stood at the pairs' starts, of evenly spaced ones past this size).
pub const CHECKPOINT_BYTES: f64 = 32e6;

/// A sample pair of true states: the start levels the forecaster needs (oldest first) and the
/// state a window of model steps after the last of them; before them, `history` states one
/// model step apart (oldest first) for a cycled filter.
#[derive(Clone, Debug)]
pub struct TruePair<V> {
    pub history: Vec<Vec<V>>,
    pub start: Vec<Vec<V>>,
    /// The state at the end of the first window asked for.
    pub end: Vec<V>,
    /// The states at the ends of the other windows asked for (while the window is chosen).
    pub other_ends: Vec<Vec<V>>,
    /// Time of the last start level.
    pub time: f64,
}

impl<V: Clone> TruePair<V> {
    /// The pair whose end is that of window `i` of those asked for (0: the first).
    pub fn with_end(&self, i: usize) -> TruePair<V> {
        TruePair {
            history: self.history.clone(),
            start: self.start.clone(),
            end: if i == 0 {
                self.end.clone()
            } else {
                self.other_ends[i - 1].clone()
            },
            other_ends: Vec::new(),
            time: self.time,
        }
    }
}

/// Truth trajectories of forecast checks kept for other cases of the same process (several
/// cases of one `medida run` share a truth and, with the same seed, the start state).
#[allow(clippy::type_complexity)]
fn trajectory_cache(
) -> &'static std::sync::Mutex<Vec<(String, std::sync::Arc<dyn std::any::Any + Send + Sync>)>> {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<Vec<(String, std::sync::Arc<dyn std::any::Any + Send + Sync>)>>,
    > = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Trajectories the cache holds at most (the oldest goes first).
const CACHED_TRAJECTORIES: usize = 4;

/// The truth's trajectory from `start` (`truth`: the truth's settings in words), run by `run`
/// unless a case of this process ran it already.
pub fn truth_trajectory<V: Value>(
    truth: &str,
    start: &[V],
    run: impl FnOnce() -> Result<Vec<Vec<V>>>,
) -> Result<Vec<Vec<V>>> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{start:?}").hash(&mut hasher);
    let key = format!("{truth}|{}|{:x}", start.len(), hasher.finish());
    let found = trajectory_cache()
        .lock()
        .expect("cache lock")
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| std::sync::Arc::clone(v));
    if let Some(states) = found.as_ref().and_then(|v| v.downcast_ref::<Vec<Vec<V>>>()) {
        return Ok(states.clone());
    }
    let states = run()?;
    let mut cache = trajectory_cache().lock().expect("cache lock");
    if cache.len() >= CACHED_TRAJECTORIES {
        cache.remove(0);
    }
    cache.push((key, std::sync::Arc::new(states.clone())));
    Ok(states)
}

/// Discovered terms per regressed component: (term name, coefficient).
pub type Correction = Vec<Vec<(String, f64)>>;

/// Stacked regression rows of one pair: the columns (shared by every component) and one
/// target per component.
pub struct Rows {
    pub columns: Array2<f64>,
    pub targets: Vec<Vec<f64>>,
}

/// Which dynamics a forecast-skill run integrates.
#[derive(Clone, Copy, Debug)]
pub enum Dynamics<'a> {
    Truth,
    Imperfect,
    Corrected(&'a Correction),
}

/// The forecaster of an ensemble member on the observed fields (stacked), from the start
/// levels to one model step later.
pub trait MemberForecast: Send + Sync {
    fn forecast(&mut self, start: &[&[f64]], out: &mut [f64]) -> Result<()>;
    fn boxed_clone(&self) -> Box<dyn MemberForecast>;
}

/// A one-step forecaster of the system's state (imperfect, or corrected by discovered terms).
pub trait Forecast {
    type Value;
    fn forecast(&mut self, start: &[Vec<Self::Value>], out: &mut Vec<Self::Value>) -> Result<()>;
}

/// What the pipeline needs of a system.
pub trait System: Sync {
    type Value: Value;
    /// The library evaluated at one state, before the row map.
    type Columns: Clone + Send;
    type Forecaster: Forecast<Value = Self::Value> + Send;

    /// "ks", "qg".
    fn kind(&self) -> &'static str;
    /// The regressed components, each its own regression: `u`; `q1`, `q2`.
    fn components(&self) -> Vec<String>;
    /// The observed fields (`u`; `psi1`, `psi2`), each on the grid.
    fn observed_fields(&self) -> Vec<String>;
    /// Grid points of one observed field.
    fn grid_points(&self) -> usize;
    /// Grid spacing in x (localization radii are in x units).
    fn grid_spacing(&self) -> f64;
    /// Where the entries of the stacked observed fields sit, for localization.
    fn geometry(&self) -> Geometry;
    /// The forecast step.
    fn dt(&self) -> f64;
    /// The windows (model steps) `observations.interval = "auto"` may choose among.
    fn window_candidates(&self) -> Vec<usize> {
        crate::pipeline::window::CANDIDATES.to_vec()
    }
    /// The levels a forecast starts from, one model step apart (CNAB2: 2; Euler: 1).
    fn start_levels(&self) -> usize;
    /// Library column names.
    fn library_names(&self) -> Vec<String>;
    /// Checks that need no data (e.g. enough rows for the library), before the truth run.
    fn check_design(&self, pairs: usize) -> Result<()>;

    /// The twin experiment's true pairs (a cached truth run), `count` of them, each with
    /// `history` earlier states one model step apart and an end after each of `windows`
    /// (model steps after the last start level; ascending).
    fn truth_pairs(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
    ) -> Result<Vec<TruePair<Self::Value>>>;
    /// The pairs `range` of those [`System::truth_pairs`] gives (the same states), for runs
    /// that stream their pairs instead of holding them. A system whose truth is one long run
    /// resumes it from checkpoints it keeps along the way, so a pass over all the pairs in
    /// order costs one truth run and holds one range at a time. The default takes the range
    /// out of every pair.
    fn truth_pairs_in(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
        range: std::ops::Range<usize>,
    ) -> Result<Vec<TruePair<Self::Value>>> {
        let mut all = self.truth_pairs(count, history, windows)?;
        Ok(all.drain(range).collect())
    }
    /// The expected error per component (truth − model), when the truth is known.
    fn expected(&self) -> Vec<Vec<(String, f64)>>;

    /// The observed fields of a state, on the grid.
    fn observe(&mut self, state: &[Self::Value]) -> Vec<Vec<f64>>;
    /// The state whose observed fields are these.
    fn state_from(&mut self, fields: &[Vec<f64>]) -> Result<Vec<Self::Value>>;
    /// Fits whole-grid fields through the values at the sensors (every field of the run
    /// in one batch: the same sensors throughout).
    fn interpolate(&mut self, sensors: &[usize], values: &[Vec<f64>]) -> Result<Vec<Vec<f64>>>;
    /// How the interpolation is made, in words.
    fn interpolator_label(&self) -> String;
    /// A random perturbation of one observed field for an ensemble member.
    fn perturbation(&mut self, field: &[f64], std: f64, rng: &mut ChaCha8Rng) -> Vec<f64>;
    /// The imperfect forecaster of an ensemble member, on the stacked observed fields.
    fn member_forecaster(&self) -> Result<Box<dyn MemberForecast>>;

    /// Chooses the row map from the estimated states at t (the noise floor; after an
    /// interpolation, what it determines).
    fn plan_rows(&mut self, estimates: &[Vec<Self::Value>], noise: f64) -> Result<()>;
    /// The row map in words (for the summary), and the Fourier modes it keeps, if it projects.
    fn row_map_label(&self) -> String;
    fn projection_modes(&self) -> Option<usize>;
    /// Smooths an estimated state the way the row map will see it (KS: the noisy start
    /// states are low-passed to the projected modes).
    fn smooth(&mut self, state: &mut [Self::Value]);

    /// The model, imperfect (`correction` empty) or corrected by discovered terms.
    fn forecaster(&mut self, correction: &Correction) -> Result<Self::Forecaster>;
    /// The library at a state.
    fn columns(&mut self, state: &[Self::Value]) -> Result<Self::Columns>;
    /// The row map applied to the columns and to one increment per component. With a
    /// forecaster, the columns are the library at a state and its linear part over one step
    /// (KS: φ(dt·L); QG: the implicit damping) enters them; without, the columns are
    /// sensitivities of a window's forecast, already propagated.
    fn rows(
        &mut self,
        columns: &Self::Columns,
        increment: &[Self::Value],
        forecaster: Option<&Self::Forecaster>,
    ) -> Result<Rows>;
    /// The columns of component `component` from the sensitivities of a forecast to some of
    /// its terms (one state per column, in the order given).
    fn sensitivity_columns(
        &self,
        component: usize,
        sensitivities: &[Vec<Self::Value>],
    ) -> Self::Columns;

    /// The model's right-hand side corrected by the discovered terms, per component.
    fn corrected_model(&self, correction: &Correction) -> Vec<Vec<(String, f64)>>;
    /// Forecast-skill runs: the interval between recorded states and their number.
    fn skill_schedule(&self) -> (f64, usize);
    /// The states of a run of `dynamics` from `start` at the skill schedule's times.
    fn trajectory(
        &self,
        dynamics: Dynamics,
        start: &[Self::Value],
    ) -> Result<Vec<Vec<Self::Value>>>;

    /// The data of the figures of the first pair (states, increment, reconstruction by the
    /// fits through the imperfect forecaster's row map).
    fn figures(
        &mut self,
        pairs: &[TruePair<Self::Value>],
        first: &FirstPair<Self>,
        forecaster: &Self::Forecaster,
        fits: &[crate::regression::rvm::RvmFit],
    ) -> Result<Sample>;
}

/// The first pair's data kept for the figures.
pub struct FirstPair<S: System + ?Sized> {
    pub start: Vec<S::Value>,
    pub increment: Vec<S::Value>,
    /// The library at the start (one, shared by the components), or the sensitivity columns
    /// of a window's forecast (one per component, `propagated`).
    pub columns: Vec<S::Columns>,
    pub propagated: bool,
}

impl<S: System + ?Sized> FirstPair<S> {
    /// The columns of component `c`.
    pub fn columns_of(&self, c: usize) -> &S::Columns {
        &self.columns[c.min(self.columns.len() - 1)]
    }
}

/// The settings of each system, selected by `[system] kind`.
#[derive(Clone, Debug)]
pub enum SystemSettings {
    Ks(Box<ks::KsSettings>),
    Qg(Box<qg::QgSettings>),
}

impl SystemSettings {
    /// The system's own sections, by `[system] kind` (default "ks").
    pub fn parse(sections: SystemSections, library: &crate::case::Library) -> Result<Self> {
        let kind = sections
            .system
            .get("kind")
            .map(|k| k.as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| "ks".into());
        match kind.as_str() {
            "ks" => Ok(SystemSettings::Ks(Box::new(ks::KsSettings::parse(
                sections, library,
            )?))),
            "qg" => Ok(SystemSettings::Qg(Box::new(qg::QgSettings::parse(
                sections, library,
            )?))),
            other => Err(crate::error::MedidaError::Config(format!(
                "`system.kind`: unknown system `{other}`: this build supports \"ks\" and \"qg\""
            ))),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SystemSettings::Ks(_) => "ks",
            SystemSettings::Qg(_) => "qg",
        }
    }

    /// Grid points of one observed field.
    pub fn points(&self) -> usize {
        match self {
            SystemSettings::Ks(s) => s.system.points,
            SystemSettings::Qg(s) => s.system.nx * s.system.ny,
        }
    }

    /// The model's forecast step.
    pub fn dt(&self) -> f64 {
        match self {
            SystemSettings::Ks(s) => s.model.dt,
            SystemSettings::Qg(s) => s.truth.dt,
        }
    }

    /// The levels a forecast starts from (CNAB2: 2; Euler: 1).
    pub fn start_levels(&self) -> usize {
        match self {
            SystemSettings::Ks(_) => 2,
            SystemSettings::Qg(_) => 1,
        }
    }

    /// How many library columns the case's `[library]` asks for.
    pub fn library_columns(&self, library: &crate::case::Library) -> usize {
        if !library.terms.is_empty() {
            return library.terms.len();
        }
        match self {
            SystemSettings::Ks(_) => {
                let (p, d) = (
                    library.max_power.unwrap_or(4),
                    library.max_derivative.unwrap_or(4),
                );
                ((p as usize + 1) * (d as usize + 1)).saturating_sub(1)
            }
            SystemSettings::Qg(_) => crate::library::terms_2d::DEFAULT_QG_TERMS.len(),
        }
    }

    /// The observed fields' names and the shape of one snapshot of each (slowest axis first).
    pub fn fields(&self) -> (Vec<&'static str>, Vec<usize>) {
        match self {
            SystemSettings::Ks(s) => (vec!["u"], vec![s.system.points]),
            SystemSettings::Qg(s) => (vec!["psi1", "psi2"], vec![s.system.ny, s.system.nx]),
        }
    }

    /// The grid's coordinates by name (`x`; `x`, `y`): periodic, from −L/2 in steps of L/n.
    pub fn coordinates(&self) -> Vec<(&'static str, Vec<f64>)> {
        let axis = |length: f64, n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| -length / 2.0 + length * i as f64 / n as f64)
                .collect()
        };
        match self {
            SystemSettings::Ks(s) => vec![("x", axis(s.system.length, s.system.points))],
            SystemSettings::Qg(s) => vec![
                ("x", axis(s.system.lx, s.system.nx)),
                ("y", axis(s.system.ly, s.system.ny)),
            ],
        }
    }

    pub fn validate(&self, case: &Case) -> Result<()> {
        match self {
            SystemSettings::Ks(s) => s.validate(case),
            SystemSettings::Qg(s) => s.validate(case),
        }
    }
}

/// Runs the one pipeline on the case's system, reporting each stage to `progress`.
pub fn run(case: &Case, progress: &dyn Fn(&str)) -> Result<crate::pipeline::discovery::Discovery> {
    run_with(case, &|stage| {
        progress(stage);
        Ok(())
    })
}

/// [`run`] with a progress callback that may stop the run by returning an error.
pub fn run_with(case: &Case, progress: Progress) -> Result<crate::pipeline::discovery::Discovery> {
    crate::memory::check(case, case.observations.pairs)?;
    match &case.system {
        SystemSettings::Ks(settings) => {
            crate::pipeline::run(case, &mut ks::Ks::new(case, settings)?, progress)
        }
        SystemSettings::Qg(settings) => {
            crate::pipeline::run(case, &mut qg::Qg::new(case, settings)?, progress)
        }
    }
}

/// Writes the observations of the case's twin experiment to `out` (`medida simulate`);
/// returns the number of snapshots.
pub fn simulate(case: &Case, out: &std::path::Path, progress: &dyn Fn(&str)) -> Result<usize> {
    use crate::pipeline::gather::simulate;
    let progress: Progress = &|stage| {
        progress(stage);
        Ok(())
    };
    crate::memory::check(case, case.observations.pairs)?;
    match &case.system {
        SystemSettings::Ks(settings) => {
            simulate(case, &mut ks::Ks::new(case, settings)?, out, progress)
        }
        SystemSettings::Qg(settings) => {
            simulate(case, &mut qg::Qg::new(case, settings)?, out, progress)
        }
    }
}

/// System-specific keys of `[library]` other than the system's own (`accepted`) are errors
/// naming the key.
pub(crate) fn reject_library_keys(
    library: &crate::case::Library,
    accepted: &[&str],
    kind: &str,
) -> Result<()> {
    match library
        .system_keys()
        .into_iter()
        .find(|key| !accepted.contains(key))
    {
        Some(key) => Err(crate::error::MedidaError::Config(format!(
            "`library.{key}` has no meaning for a {kind} case (system.kind = \"{kind}\")"
        ))),
        None => Ok(()),
    }
}
