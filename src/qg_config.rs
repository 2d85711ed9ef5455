//! QG case files (`system.kind = "qg"`): the truth and the imperfect model are given by their
//! physical parameters (the model's missing keys take the truth's values), so the expected
//! error per layer is truth − model, term by term. Unknown keys are errors naming the key.

use crate::error::{MedidaError, Result};
use crate::mlp::MlpSettings;
use crate::qg_interpolation::InterpolatorKind;
use crate::solvers::QgParams;

/// The automatic low-pass for sparse or noisy data: |K| ≤ 1.5, the cut-off measured to make
/// every sparse case of qg.md work (it keeps the relaxation, forcing and drag signal).
pub const AUTO_LOWPASS: f64 = 1.5;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QgCase {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub system: QgSystem,
    #[serde(default)]
    pub truth: QgTruth,
    #[serde(default)]
    pub model: QgModelSettings,
    #[serde(default)]
    pub observations: QgObservations,
    #[serde(default)]
    pub interpolation: QgInterpolation,
    #[serde(default)]
    pub assimilation: QgAssimilation,
    #[serde(default)]
    pub library: QgLibrarySettings,
    #[serde(default)]
    pub regression: QgRegression,
}

fn default_name() -> String {
    "unnamed".into()
}
fn default_seed() -> u64 {
    7
}

/// The grid; defaults are the authors' channel (96 × 192 on 46 × 68).
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

/// Physical parameters (rates per model time unit) and the truth run.
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

/// The imperfect model: any parameter left out is the truth's.
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgObservations {
    pub pairs: usize,
    /// Std of the noise / std of ψ_k (0 = exact).
    pub noise: f64,
    /// Fraction of grid points with a sensor, in (0, 1].
    pub fraction: f64,
}

impl Default for QgObservations {
    fn default() -> Self {
        QgObservations {
            pairs: 10,
            noise: 0.0,
            fraction: 1.0,
        }
    }
}

/// An ensemble filter for the state at t + Δt of each pair (isolated pairs, as in KS): members
/// start from the interpolated state at t plus random fields with its spectrum (random
/// phases, std `perturbation` × std ψ_k), take one imperfect-model step, and the filter
/// combines them with the sensors at t + Δt.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgAssimilation {
    /// "none" | "letkf" | "etkf" | "enkf".
    pub method: String,
    pub members: usize,
    pub perturbation: f64,
    pub inflation: f64,
    /// LETKF localization radius in grid spacings (DAPPER's convention).
    pub localization: f64,
}

impl Default for QgAssimilation {
    fn default() -> Self {
        QgAssimilation {
            method: "none".into(),
            members: 20,
            perturbation: 0.01,
            inflation: 1.0,
            localization: 4.0,
        }
    }
}

/// From the sensors to the whole grid (sparse or noisy observations of ψ1, ψ2).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgInterpolation {
    /// "auto" (none on a full grid, fourier otherwise) | "none" | "fourier" | "rff" | "mlp" |
    /// "mlp-rff".
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgLibrarySettings {
    pub terms: Vec<String>,
    /// Grid points cut from every edge before stacking (removes the sponge band).
    pub edge_cut: usize,
    /// Low-pass |K| ≤ lowpass applied alike to the increment and to every column before the
    /// cut (exact for the coefficients; removes interpolation and noise error): a wavenumber,
    /// 0 for none, or "auto" (none for exact full observations, 1.5 otherwise — qg.md).
    pub lowpass: Threshold,
    /// With a low-pass, keep only rows π/cutoff apart (the filter's Nyquist spacing), so the
    /// rows' errors are close to independent and the RVM's uncertainties are honest.
    pub thin: bool,
    /// Apply the model's one-step hyperviscous damping 1/(1 + dt ν D) to every column (the
    /// QG counterpart of the KS propagator correction; exact for forward-Euler pairs).
    pub propagator: bool,
}

/// The authors' ten columns with ∂x and ∂y apart.
pub const DEFAULT_QG_TERMS: [&str; 12] = [
    "lap(psi1)",
    "lap(psi2)",
    "dx(psi1)",
    "dy(psi1)",
    "dx(psi2)",
    "dy(psi2)",
    "psi1",
    "psi2",
    "psiR",
    "J1",
    "J2",
    "y",
];

impl Default for QgLibrarySettings {
    fn default() -> Self {
        QgLibrarySettings {
            terms: DEFAULT_QG_TERMS.iter().map(|s| s.to_string()).collect(),
            edge_cut: 20,
            lowpass: Threshold::Named("auto".into()),
            thin: true,
            propagator: true,
        }
    }
}

/// A number, or a name ("auto"): `prune_alpha` (auto = the knee of a sweep over 1 … 1e10,
/// see [`crate::sweep::select_knee`]) and `lowpass`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Threshold {
    Fixed(f64),
    Named(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgRegression {
    pub method: String,
    pub prune_alpha: Threshold,
    pub tolerance: f64,
    /// prune_alpha = "auto": the sparsest model of the sweep that explains all but this
    /// fraction of what the sweep's best model explains (the knee of the L-curve).
    pub knee: f64,
}

impl Default for QgRegression {
    fn default() -> Self {
        QgRegression {
            method: "rvm".into(),
            prune_alpha: Threshold::Named("auto".into()),
            tolerance: 1e-1,
            knee: 0.02,
        }
    }
}

impl QgCase {
    pub fn from_toml(text: &str) -> Result<Self> {
        let case: QgCase =
            toml::from_str(text).map_err(|e| MedidaError::Config(e.message().to_string()))?;
        case.validate()?;
        Ok(case)
    }

    fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        if self.system.kind != "qg" {
            return bad(
                "system.kind",
                format!("`{}` in a QG case file", self.system.kind),
            );
        }
        if !(self.observations.fraction > 0.0 && self.observations.fraction <= 1.0) {
            return bad(
                "observations.fraction",
                format!(
                    "{}: the sensor fraction must lie in (0, 1]",
                    self.observations.fraction
                ),
            );
        }
        if !(self.observations.noise.is_finite() && self.observations.noise >= 0.0) {
            return bad(
                "observations.noise",
                format!("{}: must be ≥ 0", self.observations.noise),
            );
        }
        self.interpolator()?;
        let a = &self.assimilation;
        match a.method.as_str() {
            "none" => {}
            "letkf" | "etkf" | "enkf" => {
                if self.observations.noise <= 0.0 {
                    return bad(
                        "assimilation.method",
                        format!(
                            "\"{}\" needs observations.noise > 0 (a filter weighs the sensors by their error variance)",
                            a.method
                        ),
                    );
                }
                if a.members < 2 {
                    return bad(
                        "assimilation.members",
                        format!("{}: a filter needs at least 2", a.members),
                    );
                }
                for (key, v) in [
                    ("assimilation.perturbation", a.perturbation),
                    ("assimilation.inflation", a.inflation),
                    ("assimilation.localization", a.localization),
                ] {
                    if !(v.is_finite() && v > 0.0) {
                        return bad(key, format!("{v} must be positive"));
                    }
                }
            }
            other => {
                return bad(
                    "assimilation.method",
                    format!("`{other}` is not one of none, letkf, etkf, enkf"),
                )
            }
        }
        match &self.library.lowpass {
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
        if self.observations.pairs == 0 {
            return bad("observations.pairs", "need at least one sample pair".into());
        }
        for (key, value) in [
            ("truth.dt", self.truth.dt),
            ("truth.spacing", self.truth.spacing),
            ("regression.tolerance", self.regression.tolerance),
            ("regression.knee", self.regression.knee),
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
        match &self.regression.prune_alpha {
            Threshold::Named(n) if n == "auto" => {}
            Threshold::Named(n) => {
                return bad(
                    "regression.prune_alpha",
                    format!("`{n}`: a number or \"auto\""),
                )
            }
            Threshold::Fixed(a) if !(a.is_finite() && *a > 0.0) => {
                return bad("regression.prune_alpha", format!("{a} must be positive"))
            }
            _ => {}
        }
        self.regression
            .method
            .parse::<crate::rvm::RvmMethod>()
            .map_err(|e| MedidaError::Config(format!("`regression.method`: {e}")))?;
        for term in &self.library.terms {
            crate::qg_library::QgColumn::parse(term)?;
        }
        let cut = 2 * self.library.edge_cut;
        if cut >= self.system.nx || cut >= self.system.ny {
            return bad(
                "library.edge_cut",
                format!(
                    "{} points from each edge leave nothing of a {} × {} grid",
                    self.library.edge_cut, self.system.nx, self.system.ny
                ),
            );
        }
        Ok(())
    }

    /// True when the observations are the exact truth on the whole grid.
    pub fn exact_full(&self) -> bool {
        self.observations.fraction == 1.0 && self.observations.noise == 0.0
    }

    /// The interpolator the `[interpolation]` section names ("auto": none on a full grid,
    /// the band-limited Fourier fit on a sparse one).
    pub fn interpolator(&self) -> Result<InterpolatorKind> {
        let i = &self.interpolation;
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
            "auto" if self.observations.fraction == 1.0 => InterpolatorKind::None,
            "none" if self.observations.fraction < 1.0 => {
                return Err(MedidaError::Config(format!(
                    "`interpolation.method`: \"none\" needs a sensor at every point (observations.fraction = {})",
                    self.observations.fraction
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
    pub fn lowpass(&self) -> Option<f64> {
        match self.library.lowpass {
            Threshold::Fixed(k) if k > 0.0 => Some(k),
            Threshold::Fixed(_) => None,
            Threshold::Named(_) => (!self.exact_full()).then_some(AUTO_LOWPASS),
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

/// True when a case file's `system.kind` is "qg".
pub fn is_qg(text: &str) -> bool {
    toml::from_str::<toml::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("system")
                .and_then(|s| s.get("kind"))
                .and_then(|k| k.as_str().map(|k| k == "qg"))
        })
        .unwrap_or(false)
}
