//! The two-layer quasi-geostrophic channel (JAMES 2023): a spun-up leapfrog truth, from each
//! sample state one forward-Euler step of truth and of the imperfect model (the authors'
//! pairs), the increment per layer, the 2-D library at the sample state; the row map the
//! model's one-step hyperviscous damping on every column (exact for Euler pairs), an optional
//! low-pass |K| ≤ k_c on target and columns, the edge cut and thinning. The truth and the
//! imperfect model are given by their physical parameters; the model's missing keys take the
//! truth's values, so the expected error per layer is truth − model, term by term.

use crate::assimilation::Geometry;
use crate::case::{section, Case, Projection, SystemSections, Threshold};
use crate::error::{MedidaError, Result};
use crate::library::rows::{disc_filter, EdgeCut};
use crate::library::terms_2d::{QgColumn, QgLibrary, DEFAULT_QG_TERMS};
use crate::observe::fourier_2d::{interpolate, InterpolatorKind};
use crate::observe::mlp::MlpSettings;
use crate::pipeline::discovery::Sample;
use crate::random::{stream, Purpose};
use crate::regression::rvm::RvmFit;
use crate::solvers::{
    Model, Parameterization, QgIntervalModel, QgModel, QgParams, QgScheme, QgStepper, Spectral2d,
    Stepper,
};
use crate::systems::{
    reject_library_keys, Correction, Dynamics, FirstPair, Forecast, MemberForecast, Rows, System,
    TruePair,
};
use ndarray::Array2;
use num_complex::Complex64;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The automatic low-pass for sparse or noisy data: |K| ≤ 1.5, the cut-off measured to make
/// every sparse case of qg.md work (it keeps the relaxation, forcing and drag signal).
pub const AUTO_LOWPASS: f64 = 1.5;

/// `[system]`: the grid; defaults are the authors' channel (96 × 192 on 46 × 68).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgSystem {
    pub kind: String,
    pub nx: usize,
    pub ny: usize,
    pub lx: f64,
    pub ly: f64,
}

impl Default for QgSystem {
    fn default() -> Self {
        QgSystem {
            kind: "qg".into(),
            nx: 96,
            ny: 192,
            lx: 46.0,
            ly: 68.0,
        }
    }
}

/// `[truth]`: physical parameters (rates per model time unit) and the truth run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgTruth {
    pub relaxation: f64,
    pub forcing: f64,
    pub drag: f64,
    pub jacobian: f64,
    pub beta: f64,
    pub hyperviscosity: f64,
    pub dt: f64,
    /// Time discarded before sampling (the authors: 10,000 steps of 0.025).
    pub spinup: f64,
    /// Time between consecutive sample pairs.
    pub spacing: f64,
}

impl Default for QgTruth {
    fn default() -> Self {
        let p = QgParams::medida_jet();
        QgTruth {
            relaxation: p.relaxation,
            forcing: p.forcing,
            drag: p.drag,
            jacobian: p.jacobian,
            beta: p.beta,
            hyperviscosity: p.hyperviscosity,
            dt: 0.025,
            spinup: 250.0,
            spacing: 1.0,
        }
    }
}

/// `[model]`: the imperfect model; any parameter left out is the truth's.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgModelSettings {
    pub relaxation: Option<f64>,
    pub forcing: Option<f64>,
    pub drag: Option<f64>,
    pub jacobian: Option<f64>,
    pub beta: Option<f64>,
    pub hyperviscosity: Option<f64>,
}

/// `[interpolation]`: from the sensors to the whole grid (sparse observations of ψ1, ψ2).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgInterpolation {
    /// "auto" (fourier) | "none" | "fourier" | "rff" | "mlp" | "mlp-rff".
    pub method: String,
    /// fourier: real unknowns per sensor (fixes the disc radius of the band).
    pub ratio: f64,
    /// fourier: also fit the zonal mean at every meridional wavenumber.
    pub zonal_mean: bool,
    /// rff: number of features (even); mlp-rff: number of Fourier frequencies.
    pub features: usize,
    /// rff / mlp-rff: std of the random frequencies, on coordinates scaled to [−π, π).
    pub sigma: f64,
    /// rff: ridge, relative to the mean diagonal of the Gram matrix.
    pub ridge: f64,
    /// mlp: hidden width, hidden layers, full-batch epochs, Adam learning rate.
    pub width: usize,
    pub layers: usize,
    pub epochs: usize,
    pub learning_rate: f64,
}

impl Default for QgInterpolation {
    fn default() -> Self {
        let mlp = MlpSettings::default();
        QgInterpolation {
            method: "auto".into(),
            ratio: 0.3,
            zonal_mean: true,
            features: 4000,
            sigma: 1.0,
            ridge: 1e-8,
            width: mlp.width,
            layers: mlp.layers,
            epochs: mlp.epochs,
            learning_rate: mlp.learning_rate,
        }
    }
}

/// Everything of a case that only the QG system reads (with its `[library]` keys).
#[derive(Clone, Debug)]
pub struct QgSettings {
    pub system: QgSystem,
    pub truth: QgTruth,
    pub model: QgModelSettings,
    pub interpolation: QgInterpolation,
    /// Grid points cut from every edge before stacking (removes the sponge band).
    pub edge_cut: usize,
    /// Low-pass |K| ≤ lowpass applied alike to the increment and to every column before the
    /// cut: a wavenumber, 0 for none, or "auto" (none for exact full observations, 1.5
    /// otherwise — qg.md).
    pub lowpass: Threshold,
    /// With a low-pass, keep only rows π/cutoff apart (the filter's Nyquist spacing), so the
    /// rows' errors are close to independent and the RVM's uncertainties are honest.
    pub thin: bool,
}

/// Forecast-skill states (one per snapshot spacing of the authors) and their number: 20 time
/// units (800 leapfrog steps per run; the error of the imperfect models of 1001–1008 grows
/// but stays below 0.5 that long, so the report gives the errors at the horizon too).
const SKILL_INTERVAL: f64 = 1.0;
const SKILL_STATES: usize = 20;

impl QgSettings {
    pub fn parse(sections: SystemSections, library: &crate::case::Library) -> Result<Self> {
        reject_library_keys(library, &["edge_cut", "lowpass", "thin"], "qg")?;
        Ok(QgSettings {
            system: section("system", &sections.system)?,
            truth: section("truth", &sections.truth)?,
            model: section("model", &sections.model)?,
            interpolation: section("interpolation", &sections.interpolation)?,
            edge_cut: library.edge_cut.unwrap_or(20),
            lowpass: library
                .lowpass
                .clone()
                .unwrap_or(Threshold::Named("auto".into())),
            thin: library.thin.unwrap_or(true),
        })
    }

    pub fn validate(&self, case: &Case) -> Result<()> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        if case.regression.projection != Projection::Named("auto".into()) {
            return bad(
                "regression.projection",
                "KS cases project onto Fourier modes; QG cases filter with `library.lowpass`"
                    .into(),
            );
        }
        self.interpolator(case)?;
        match &self.lowpass {
            Threshold::Named(n) if n == "auto" => {}
            Threshold::Named(n) => {
                return bad(
                    "library.lowpass",
                    format!("`{n}`: a wavenumber or \"auto\""),
                )
            }
            Threshold::Fixed(k) if !(k.is_finite() && *k >= 0.0) => {
                return bad("library.lowpass", format!("{k} must be ≥ 0"))
            }
            _ => {}
        }
        for (key, value) in [
            ("truth.dt", self.truth.dt),
            ("truth.spacing", self.truth.spacing),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(key, format!("{value} must be positive and finite"));
            }
        }
        if !(self.truth.spinup.is_finite() && self.truth.spinup >= 0.0) {
            return bad(
                "truth.spinup",
                format!("{} must be non-negative", self.truth.spinup),
            );
        }
        let steps = (self.truth.spinup + self.truth.spacing * case.observations.pairs as f64)
            / self.truth.dt;
        if !case.observations.from_data() && steps > crate::systems::MAX_TRUTH_STEPS {
            return bad(
                "truth.spinup",
                format!(
                    "the truth run (spin-up {} + {} pairs × spacing {}) is {steps:.1e} steps of {}: more than the {:.0e} medida integrates in one run; shorten it or lengthen truth.dt",
                    self.truth.spinup,
                    case.observations.pairs,
                    self.truth.spacing,
                    self.truth.dt,
                    crate::systems::MAX_TRUTH_STEPS
                ),
            );
        }
        let history = case.assimilation.history();
        let span = (history + 1) as f64 * self.truth.dt;
        if !case.observations.from_data() && self.truth.spacing < span {
            return bad(
                "truth.spacing",
                format!(
                    "{}: less than the {span} a pair spans ({} steps of {}): the pairs would overlap",
                    self.truth.spacing,
                    history + 1,
                    self.truth.dt
                ),
            );
        }
        for term in &case.library.terms {
            QgColumn::parse(term)?;
        }
        let cut = 2 * self.edge_cut;
        if cut >= self.system.nx || cut >= self.system.ny {
            return bad(
                "library.edge_cut",
                format!(
                    "{} points from each edge leave nothing of a {} × {} grid",
                    self.edge_cut, self.system.nx, self.system.ny
                ),
            );
        }
        Ok(())
    }

    /// The interpolator the `[interpolation]` section names ("auto": the band-limited
    /// Fourier fit; used only where sensors are sparse).
    pub fn interpolator(&self, case: &Case) -> Result<InterpolatorKind> {
        let i = &self.interpolation;
        let points = self.system.nx * self.system.ny;
        let sparse = case.observations.sensors(points)?.is_sparse(points);
        let mlp = |fourier_features: usize| {
            let s = MlpSettings {
                width: i.width,
                layers: i.layers,
                fourier_features,
                sigma: i.sigma,
                epochs: i.epochs,
                learning_rate: i.learning_rate,
            };
            s.validate().map(|_| InterpolatorKind::Mlp(s))
        };
        let kind = match i.method.as_str() {
            "none" if sparse => {
                return Err(MedidaError::Config(format!(
                    "`interpolation.method`: \"none\" needs a sensor at every point (observations.fraction = {})",
                    case.observations.fraction
                )))
            }
            "none" => InterpolatorKind::None,
            "auto" | "fourier" => {
                if !(i.ratio > 0.0 && i.ratio <= 1.0) {
                    return Err(MedidaError::Config(format!(
                        "`interpolation.ratio`: {} must lie in (0, 1]",
                        i.ratio
                    )));
                }
                InterpolatorKind::Fourier {
                    ratio: i.ratio,
                    zonal_mean: i.zonal_mean,
                }
            }
            "rff" => {
                if i.features < 2 || !i.features.is_multiple_of(2) {
                    return Err(MedidaError::Config(format!(
                        "`interpolation.features`: {} must be even and ≥ 2",
                        i.features
                    )));
                }
                for (key, v) in [("sigma", i.sigma), ("ridge", i.ridge)] {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(MedidaError::Config(format!(
                            "`interpolation.{key}`: {v} must be positive"
                        )));
                    }
                }
                InterpolatorKind::Rff {
                    features: i.features,
                    sigma: i.sigma,
                    ridge: i.ridge,
                }
            }
            "mlp" => mlp(0)?,
            "mlp-rff" => mlp(i.features)?,
            other => {
                return Err(MedidaError::Config(format!(
                    "`interpolation.method`: `{other}` is not one of auto, none, fourier, rff, mlp, mlp-rff"
                )))
            }
        };
        Ok(kind)
    }

    /// The low-pass wavenumber applied to target and library (None: no filter).
    pub fn lowpass(&self, exact_full: bool) -> Option<f64> {
        match self.lowpass {
            Threshold::Fixed(k) if k > 0.0 => Some(k),
            Threshold::Fixed(_) => None,
            Threshold::Named(_) => (!exact_full).then_some(AUTO_LOWPASS),
        }
    }

    /// Solver parameters of the truth.
    pub fn truth_params(&self) -> QgParams {
        let t = &self.truth;
        QgParams {
            nx: self.system.nx,
            ny: self.system.ny,
            lx: self.system.lx,
            ly: self.system.ly,
            relaxation: t.relaxation,
            forcing: t.forcing,
            drag: t.drag,
            jacobian: t.jacobian,
            beta: t.beta,
            hyperviscosity: t.hyperviscosity,
            ..QgParams::medida_jet()
        }
    }

    /// Solver parameters of the imperfect model (the truth's where not given).
    pub fn model_params(&self) -> QgParams {
        let m = &self.model;
        let truth = self.truth_params();
        QgParams {
            relaxation: m.relaxation.unwrap_or(truth.relaxation),
            forcing: m.forcing.unwrap_or(truth.forcing),
            drag: m.drag.unwrap_or(truth.drag),
            jacobian: m.jacobian.unwrap_or(truth.jacobian),
            beta: m.beta.unwrap_or(truth.beta),
            hyperviscosity: m.hyperviscosity.unwrap_or(truth.hyperviscosity),
            ..truth
        }
    }
}

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
    let mut rng = stream(seed, 0, 0, Purpose::InitialState);
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
/// `count` of them `spacing` apart after the spin-up, each preceded by `history` states one
/// step apart (pair k: entries k(h+1) … k(h+1) + h, the sample state last); cached per run
/// settings.
pub fn truth_states(
    settings: &QgSettings,
    seed: u64,
    count: usize,
    history: usize,
) -> Result<Snapshots> {
    let params = settings.truth_params();
    let dt = settings.truth.dt;
    let spinup = (settings.truth.spinup / dt).round() as usize;
    let spacing = ((settings.truth.spacing / dt).round() as usize).max(1);
    if history > spinup {
        return Err(MedidaError::Config(format!(
            "`assimilation.cycles` = {history} reaches back before t = 0: lengthen `truth.spinup`"
        )));
    }
    let key = format!("{params:?}|{seed}|{dt}|{spinup}|{spacing}|{count}|{history}");
    if let Some(s) = truth_cache().lock().expect("cache lock").get(&key) {
        return Ok(Arc::clone(s));
    }
    let model = QgModel::new(params)?;
    let mut q = initial_state(&model, seed);
    let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, dt)?;
    let fail = |e: crate::solvers::SolverError| {
        MedidaError::Config(format!(
            "the QG truth run failed: {e} (check the [truth] parameters and dt)"
        ))
    };
    let wanted = |k: usize| (0..=history).map(move |j| spinup + k * spacing - history + j);
    let mut steps: Vec<usize> = (0..count).flat_map(wanted).collect();
    steps.dedup();
    let mut kept = HashMap::new();
    let mut step = 0;
    for s in steps {
        stepper.advance(&mut q, s - step, step).map_err(fail)?;
        step = s;
        kept.insert(s, q.clone());
    }
    let snapshots = Arc::new(
        (0..count)
            .flat_map(wanted)
            .map(|s| kept[&s].clone())
            .collect(),
    );
    truth_cache()
        .lock()
        .expect("cache lock")
        .insert(key, Arc::clone(&snapshots));
    Ok(snapshots)
}

/// One forward-Euler step (implicit hyperviscosity), as in the authors' sample pairs.
/// The states after each of `steps` (ascending) forward-Euler steps from q.
fn euler_steps(
    stepper: &mut QgStepper,
    q: &[Complex64],
    steps: &[usize],
) -> Result<Vec<Vec<Complex64>>> {
    stepper.reset();
    let mut next = q.to_vec();
    let mut done = 0;
    let mut out = Vec::with_capacity(steps.len());
    for &n in steps {
        stepper.advance(&mut next, n - done, done)?;
        done = n;
        out.push(next.clone());
    }
    Ok(out)
}

fn euler_step(stepper: &mut QgStepper, q: &[Complex64]) -> Result<Vec<Complex64>> {
    stepper.reset();
    let mut next = q.to_vec();
    stepper.advance(&mut next, 1, 0)?;
    Ok(next)
}

/// Discovered terms as an extra tendency of the QG model: per layer Σ_j c_j column_j(q).
#[derive(Clone)]
struct DiscoveredTerms {
    library: QgLibrary,
    /// Per layer, one coefficient per library column.
    coefficients: [Vec<f64>; 2],
}

impl DiscoveredTerms {
    /// None when nothing was discovered.
    fn new(correction: &Correction, params: &QgParams) -> Result<Option<Self>> {
        let mut names: Vec<String> = correction
            .iter()
            .flatten()
            .map(|(t, _)| t.clone())
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(None);
        }
        let coefficients = [0, 1].map(|layer| {
            names
                .iter()
                .map(|n| {
                    correction
                        .get(layer)
                        .and_then(|terms| terms.iter().find(|(t, _)| t == n))
                        .map_or(0.0, |(_, c)| *c)
                })
                .collect()
        });
        Ok(Some(DiscoveredTerms {
            library: QgLibrary::new(&names, params, 0)?,
            coefficients,
        }))
    }
}

impl Parameterization for DiscoveredTerms {
    fn add_tendency(&mut self, q: &[Complex64], out: &mut [Complex64]) {
        let spectra = self.library.column_spectra(q);
        let n = out.len() / 2;
        for (layer, coefficients) in self.coefficients.iter().enumerate() {
            let out = &mut out[layer * n..(layer + 1) * n];
            for (spectrum, &c) in spectra.iter().zip(coefficients) {
                if c != 0.0 {
                    for (o, s) in out.iter_mut().zip(spectrum) {
                        *o += c * s;
                    }
                }
            }
        }
    }
    fn boxed_clone(&self) -> Box<dyn Parameterization> {
        Box::new(self.clone())
    }
}

/// The imperfect or corrected model's forward-Euler step.
pub struct QgStep {
    stepper: QgStepper,
}

impl Forecast for QgStep {
    type Value = Complex64;
    fn forecast(&mut self, start: &[Vec<Complex64>], out: &mut Vec<Complex64>) -> Result<()> {
        *out = euler_step(&mut self.stepper, start.last().expect("a start level"))?;
        Ok(())
    }
}

/// A filter model advancing one level, as an ensemble member's forecaster.
struct OneLevel<M: Model> {
    model: Arc<M>,
    workspace: M::Workspace,
}

impl<M> MemberForecast for OneLevel<M>
where
    M: Model + Send + 'static,
    M::Workspace: Sync + 'static,
{
    fn forecast(&mut self, start: &[&[f64]], out: &mut [f64]) -> Result<()> {
        out.copy_from_slice(start[start.len() - 1]);
        Ok(self.model.advance(out, &mut self.workspace)?)
    }
    fn boxed_clone(&self) -> Box<dyn MemberForecast> {
        Box::new(OneLevel {
            model: Arc::clone(&self.model),
            workspace: self.model.workspace(),
        })
    }
}

/// A QG case as a plug-in of the pipeline.
pub struct Qg {
    settings: QgSettings,
    seed: u64,
    truth_params: QgParams,
    model_params: QgParams,
    interpolator: InterpolatorKind,
    /// Truth's forward-Euler step (the authors' "observed" state after Δt).
    truth_step: QgStepper,
    library: QgLibrary,
    /// Transforms between the grid and spectra of the observed fields.
    helper: QgModel,
    /// The low-pass wavenumber (None: no filter), its per-mode filter, and the column
    /// multiplier (damping × filter).
    lowpass: Option<f64>,
    filter: Option<Vec<f64>>,
    multiplier: Option<Vec<f64>>,
    rows_cut: EdgeCut,
}

impl Qg {
    pub fn new(case: &Case, settings: &QgSettings) -> Result<Self> {
        let truth_params = settings.truth_params();
        let model_params = settings.model_params();
        let dt = settings.truth.dt;
        let names: Vec<String> = if case.library.terms.is_empty() {
            DEFAULT_QG_TERMS.iter().map(|s| s.to_string()).collect()
        } else {
            case.library.terms.clone()
        };
        let library = QgLibrary::new(&names, &model_params, settings.edge_cut)?;
        let helper = QgModel::new(truth_params.clone())?;
        let grid = helper.grid();
        let exact_full = case.observations.noise == crate::case::Noise::Given(0.0)
            && !case
                .observations
                .sensors(grid.points())?
                .is_sparse(grid.points());
        let lowpass = settings.lowpass(exact_full);
        let filter = lowpass.map(|cutoff| disc_filter(grid, cutoff));
        let damping: Option<Vec<f64>> = case
            .library
            .propagator()
            .then(|| {
                QgModel::new(model_params.clone())
                    .map(|m| m.damping().iter().map(|d| 1.0 / (1.0 + dt * d)).collect())
            })
            .transpose()?;
        let multiplier = match (&damping, &filter) {
            (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(a, b)| a * b).collect()),
            (Some(a), None) => Some(a.clone()),
            (None, b) => b.clone(),
        };
        let stride = match (lowpass, settings.thin) {
            (Some(cutoff), true) => EdgeCut::nyquist_stride(grid, cutoff),
            _ => [1, 1],
        };
        Ok(Qg {
            interpolator: settings.interpolator(case)?,
            truth_step: QgStepper::new(
                QgModel::new(truth_params.clone())?,
                QgScheme::ForwardEuler,
                dt,
            )?,
            rows_cut: EdgeCut {
                edge: settings.edge_cut,
                stride,
            },
            settings: settings.clone(),
            seed: case.seed,
            truth_params,
            model_params,
            library,
            helper,
            lowpass,
            filter,
            multiplier,
        })
    }

    fn grid(&self) -> &Spectral2d {
        self.helper.grid()
    }

    fn nx_ny(&self) -> (usize, usize) {
        (self.grid().nx(), self.grid().ny())
    }

    /// The imperfect model, with discovered terms as an extra tendency.
    fn model(&self, correction: &Correction) -> Result<QgModel> {
        let model = QgModel::new(self.model_params.clone())?;
        Ok(
            match DiscoveredTerms::new(correction, &self.model_params)? {
                Some(terms) => model.with_parameterization(Box::new(terms)),
                None => model,
            },
        )
    }

    /// The layers of a spectral state on the grid.
    fn layers(&mut self, spectrum: &[Complex64]) -> Vec<Vec<f64>> {
        let points = self.grid().points();
        let mut field = vec![0.0; 2 * points];
        self.helper.to_physical(spectrum, &mut field);
        field.chunks_exact(points).map(|f| f.to_vec()).collect()
    }

    /// The layers of an increment on the grid, after the row map's low-pass (if any).
    fn filtered_layers(&mut self, increment: &[Complex64]) -> Vec<Vec<f64>> {
        let n = increment.len() / 2;
        let filtered: Vec<Complex64> = match &self.filter {
            Some(filter) => increment
                .iter()
                .enumerate()
                .map(|(m, v)| v * filter[m % n])
                .collect(),
            None => increment.to_vec(),
        };
        self.layers(&filtered)
    }

    /// The model's terms per layer in the library's names (the sponge has none: `sponge(qk)`).
    fn model_terms(&self) -> [Vec<(String, f64)>; 2] {
        let p = &self.model_params;
        [0, 1].map(|layer| {
            let k = layer + 1;
            let sign = if layer == 0 { 1.0 } else { -1.0 };
            let mut terms = vec![
                (format!("J{k}"), -p.jacobian),
                (format!("dx(psi{k})"), -p.beta),
                ("psi1".to_string(), sign * p.relaxation),
                ("psi2".to_string(), -sign * p.relaxation),
                ("psiR".to_string(), -sign * p.forcing),
            ];
            if layer == 1 {
                terms.push(("lap(psi2)".into(), -p.drag));
            }
            terms.push((format!("hyper(q{k})"), -p.hyperviscosity));
            terms.push((format!("sponge(q{k})"), -1.0));
            terms.retain(|(_, c)| *c != 0.0);
            terms
        })
    }
}

impl System for Qg {
    type Value = Complex64;
    type Columns = Vec<Vec<Complex64>>;
    type Forecaster = QgStep;

    fn kind(&self) -> &'static str {
        "qg"
    }
    fn components(&self) -> Vec<String> {
        vec!["q1".into(), "q2".into()]
    }
    fn observed_fields(&self) -> Vec<String> {
        vec!["psi1".into(), "psi2".into()]
    }
    fn grid_points(&self) -> usize {
        self.grid().points()
    }
    fn grid_spacing(&self) -> f64 {
        self.grid().lx() / self.grid().nx() as f64
    }
    fn geometry(&self) -> Geometry {
        Geometry::Periodic2d {
            nx: self.grid().nx(),
            ny: self.grid().ny(),
        }
    }
    fn dt(&self) -> f64 {
        self.settings.truth.dt
    }
    fn start_levels(&self) -> usize {
        1
    }
    /// One step: a window's sensitivity columns cost 2 × (library terms) forecasts per pair
    /// over the window, minutes per case on a QG grid, so `auto` keeps one step until those
    /// forecasts are batched; `observations.interval` asks for a window explicitly.
    fn window_candidates(&self) -> Vec<usize> {
        vec![1]
    }
    fn library_names(&self) -> Vec<String> {
        self.library.names().to_vec()
    }
    fn check_design(&self, pairs: usize) -> Result<()> {
        let (nx, ny) = self.nx_ny();
        let total_rows = self.rows_cut.rows(nx, ny) * pairs;
        let columns = self.library.names().len();
        if total_rows < 2 * columns {
            return Err(MedidaError::Config(format!(
                "{total_rows} rows per layer ({pairs} pair(s), after the edge cut{}) for {columns} library columns: \
                 use more pairs, a smaller library.edge_cut, a higher library.lowpass or library.thin = false",
                if self.rows_cut.stride != [1, 1] { " and thinning" } else { "" },
            )));
        }
        Ok(())
    }

    /// The truth's leapfrog run gives the start states; the end of a window of n steps is n
    /// forward-Euler steps of the truth (the authors' "observed" state after Δt, for n = 1).
    fn truth_pairs(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
    ) -> Result<Vec<TruePair<Complex64>>> {
        self.truth_pairs_in(count, history, windows, 0..count)
    }

    /// The sample states come from the cached truth run (one state per pair and history
    /// level); only the range's ends are stepped.
    fn truth_pairs_in(
        &mut self,
        count: usize,
        history: usize,
        windows: &[usize],
        range: std::ops::Range<usize>,
    ) -> Result<Vec<TruePair<Complex64>>> {
        let snapshots = truth_states(&self.settings, self.seed, count, history)?;
        let t = &self.settings.truth;
        let first = range.start;
        snapshots[range.start * (history + 1)..range.end * (history + 1)]
            .chunks_exact(history + 1)
            .enumerate()
            .map(|(i, states)| {
                let k = first + i;
                let q = &states[history];
                let mut ends = euler_steps(&mut self.truth_step, q, windows)?.into_iter();
                Ok(TruePair {
                    history: states[..history].to_vec(),
                    start: vec![q.clone()],
                    end: ends.next().expect("a window"),
                    other_ends: ends.collect(),
                    time: t.spinup + k as f64 * t.spacing,
                })
            })
            .collect()
    }

    fn expected(&self) -> Vec<Vec<(String, f64)>> {
        self.library
            .expected(&self.truth_params, &self.model_params)
            .to_vec()
    }

    /// ψ1, ψ2 on the grid.
    fn observe(&mut self, q: &[Complex64]) -> Vec<Vec<f64>> {
        let mut psi = vec![Complex64::new(0.0, 0.0); q.len()];
        self.helper.invert(q, &mut psi);
        self.layers(&psi)
    }
    /// PV spectra of both layers from ψ1, ψ2 on the grid.
    fn state_from(&mut self, fields: &[Vec<f64>]) -> Result<Vec<Complex64>> {
        let psi = self.helper.to_spectral(&fields.concat())?;
        let mut q = vec![Complex64::new(0.0, 0.0); psi.len()];
        self.helper.potential_vorticity(&psi, &mut q);
        Ok(q)
    }
    fn interpolate(&mut self, sensors: &[usize], values: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        interpolate(
            &self.interpolator,
            self.helper.grid(),
            sensors,
            values,
            self.seed,
        )
    }
    fn interpolator_label(&self) -> String {
        self.interpolator.label()
    }
    /// A random field with the field's spectrum (each mode times a complex normal, the mean
    /// removed), scaled to rms `std`.
    fn perturbation(&mut self, field: &[f64], std: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let grid = self.helper.grid_mut();
        let points = grid.points();
        let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
        grid.forward(field, &mut spectrum);
        spectrum[0] = Complex64::new(0.0, 0.0);
        for s in spectrum.iter_mut() {
            *s *= Complex64::new(StandardNormal.sample(rng), StandardNormal.sample(rng));
        }
        let mut out = vec![0.0; points];
        grid.inverse(&spectrum, &mut out);
        let spread = (out.iter().map(|v| v * v).sum::<f64>() / points as f64).sqrt();
        let scale = if spread > 0.0 { std / spread } else { 0.0 };
        out.iter_mut().for_each(|v| *v *= scale);
        out
    }
    fn member_forecaster(&self) -> Result<Box<dyn MemberForecast>> {
        let model = QgIntervalModel::new(
            QgModel::new(self.model_params.clone())?,
            QgScheme::ForwardEuler,
            self.settings.truth.dt,
            1,
        )?
        .on_streamfunction();
        let workspace = model.workspace();
        Ok(Box::new(OneLevel {
            model: Arc::new(model),
            workspace,
        }))
    }

    fn plan_rows(&mut self, _: &[Vec<Complex64>], _: f64) -> Result<()> {
        Ok(())
    }
    fn row_map_label(&self) -> String {
        let lowpass = self
            .lowpass
            .map_or("no low-pass".into(), |k| format!("low-pass |K| ≤ {k}"));
        let [sx, sy] = self.rows_cut.stride;
        format!(
            "{lowpass}, edge cut {}, every {sx}×{sy} point",
            self.rows_cut.edge
        )
    }
    fn projection_modes(&self) -> Option<usize> {
        None
    }
    fn smooth(&mut self, _: &mut [Complex64]) {}

    fn forecaster(&mut self, correction: &Correction) -> Result<QgStep> {
        Ok(QgStep {
            stepper: QgStepper::new(
                self.model(correction)?,
                QgScheme::ForwardEuler,
                self.settings.truth.dt,
            )?,
        })
    }
    fn columns(&mut self, q: &[Complex64]) -> Result<Vec<Vec<Complex64>>> {
        Ok(self.library.column_spectra(q))
    }
    /// The damping and low-pass act alike on the increment and on every column (exact for
    /// the coefficients of a linear regression on filtered data), then the edge cut.
    fn rows(
        &mut self,
        columns: &Vec<Vec<Complex64>>,
        increment: &[Complex64],
        forecaster: Option<&QgStep>,
    ) -> Result<Rows> {
        let multiplier = match forecaster {
            Some(_) => self.multiplier.as_deref(),
            None => self.filter.as_deref(),
        };
        let fields = self.library.fields(columns, multiplier, self.rows_cut);
        let rows = fields.first().map_or(0, |f| f.len());
        let matrix = Array2::from_shape_fn((rows, fields.len()), |(r, c)| fields[c][r]);
        let (nx, ny) = self.nx_ny();
        let targets = self
            .filtered_layers(increment)
            .iter()
            .map(|layer| self.rows_cut.apply(nx, ny, layer))
            .collect();
        Ok(Rows {
            columns: matrix,
            targets,
        })
    }

    /// Layer `component` of each sensitivity (both layers' spectra).
    fn sensitivity_columns(
        &self,
        component: usize,
        sensitivities: &[Vec<Complex64>],
    ) -> Vec<Vec<Complex64>> {
        sensitivities
            .iter()
            .map(|s| {
                let n = s.len() / 2;
                s[component * n..(component + 1) * n].to_vec()
            })
            .collect()
    }

    fn corrected_model(&self, correction: &Correction) -> Vec<Vec<(String, f64)>> {
        self.model_terms()
            .into_iter()
            .zip(correction)
            .map(|(mut terms, discovered)| {
                for (t, c) in discovered {
                    match terms.iter_mut().find(|(u, _)| u == t) {
                        Some((_, v)) => *v += c,
                        None => terms.push((t.clone(), *c)),
                    }
                }
                terms.retain(|(_, c)| *c != 0.0);
                terms
            })
            .collect()
    }
    fn skill_schedule(&self) -> (f64, usize) {
        (SKILL_INTERVAL, SKILL_STATES)
    }
    /// Leapfrog (the truth's scheme) for every dynamics.
    fn trajectory(&self, dynamics: Dynamics, start: &[Complex64]) -> Result<Vec<Vec<Complex64>>> {
        let model = match dynamics {
            Dynamics::Truth => QgModel::new(self.truth_params.clone())?,
            Dynamics::Imperfect => self.model(&Correction::new())?,
            Dynamics::Corrected(c) => self.model(c)?,
        };
        let dt = self.settings.truth.dt;
        let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, dt)?;
        let every = ((SKILL_INTERVAL / dt).round() as usize).max(1);
        let mut q = start.to_vec();
        let mut states = vec![q.clone()];
        for i in 0..SKILL_STATES {
            stepper.advance(&mut q, every, i * every)?;
            states.push(q.clone());
        }
        Ok(states)
    }

    fn figures(
        &mut self,
        _: &[TruePair<Complex64>],
        first: &FirstPair<Self>,
        _: &QgStep,
        fits: &[RvmFit],
    ) -> Result<Sample> {
        let (nx, ny) = self.nx_ny();
        let cut = self.library.edge_cut();
        let (w, h) = (nx - 2 * cut.edge, ny - 2 * cut.edge);
        let multiplier = if first.propagated {
            self.filter.clone()
        } else {
            self.multiplier.clone()
        };
        let reconstruction = fits
            .iter()
            .enumerate()
            .map(|(c, fit)| {
                let columns = self
                    .library
                    .fields(first.columns_of(c), multiplier.as_deref(), cut);
                let mut r = vec![fit.intercept; w * h];
                for &i in &fit.retained {
                    for (r, v) in r.iter_mut().zip(&columns[i]) {
                        *r += fit.coefficients[i] * v;
                    }
                }
                Array2::from_shape_vec((h, w), r).expect("cut size")
            })
            .collect();
        let increment = self
            .filtered_layers(&first.increment)
            .iter()
            .map(|l| Array2::from_shape_vec((h, w), cut.apply(nx, ny, l)).expect("cut size"))
            .collect();
        let state = self
            .layers(&first.start)
            .into_iter()
            .map(|l| Array2::from_shape_vec((ny, nx), l).expect("grid size"))
            .collect();
        Ok(Sample::Maps {
            x: self.grid().x(),
            y: self.grid().y(),
            edge_cut: cut.edge,
            state_label: "PV anomaly q".into(),
            state,
            increment,
            reconstruction,
        })
    }
}
