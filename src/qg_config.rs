//! QG case files (`system.kind = "qg"`): the truth and the imperfect model are given by their
//! physical parameters (the model's missing keys take the truth's values), so the expected
//! error per layer is truth − model, term by term. Unknown keys are errors naming the key.

use crate::error::{MedidaError, Result};
use crate::solvers::QgParams;
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QgLibrarySettings {
    pub terms: Vec<String>,
    /// Grid points cut from every edge before stacking (removes the sponge band).
    pub edge_cut: usize,
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
            propagator: true,
        }
    }
}

/// `prune_alpha` = a number, or "auto": the widest plateau of a sweep over 1 … 1e10.
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
}

impl Default for QgRegression {
    fn default() -> Self {
        QgRegression {
            method: "rvm".into(),
            prune_alpha: Threshold::Named("auto".into()),
            tolerance: 1e-1,
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
        if self.observations.fraction < 1.0 || self.observations.noise > 0.0 {
            return bad(
                "observations",
                "sparse or noisy QG observations need the interpolators of issue 7, not in this build yet; use fraction = 1 and noise = 0".into(),
            );
        }
        if self.observations.pairs == 0 {
            return bad("observations.pairs", "need at least one sample pair".into());
        }
        for (key, value) in [
            ("truth.dt", self.truth.dt),
            ("truth.spacing", self.truth.spacing),
            ("regression.tolerance", self.regression.tolerance),
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
