//! Case files (TOML) as fixed by interfaces.md. Missing sections take the defaults of the KS
//! paper's setup (with the engine's best choices where the paper's were measured to fail);
//! unknown keys are errors naming the key.

use crate::error::{MedidaError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub system: System,
    #[serde(default)]
    pub truth: Truth,
    #[serde(default)]
    pub model: Model,
    #[serde(default)]
    pub observations: Observations,
    #[serde(default)]
    pub assimilation: Assimilation,
    #[serde(default)]
    pub library: Library,
    #[serde(default)]
    pub regression: Regression,
}

fn default_name() -> String {
    "unnamed".into()
}
fn default_seed() -> u64 {
    7
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct System {
    pub kind: String,
    pub length: f64,
    pub points: usize,
    pub initial: String,
    /// 2/3-rule dealiasing of the solvers' nonlinear terms.
    pub dealias: bool,
}

impl Default for System {
    fn default() -> Self {
        System {
            kind: "ks".into(),
            length: 100.0,
            points: 1024,
            initial: "medida".into(),
            dealias: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Truth {
    pub rhs: BTreeMap<String, f64>,
    pub dt: f64,
    pub spinup: f64,
    pub duration: f64,
}

impl Default for Truth {
    fn default() -> Self {
        Truth {
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Model {
    pub rhs: BTreeMap<String, f64>,
    pub scheme: String,
    pub dt: f64,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            rhs: [("u_xx", -1.0), ("u_xxxx", -1.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            scheme: "cnab2".into(),
            dt: 5e-3,
        }
    }
}

/// `"full"`, `{ every = k }` or `{ random = n }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Operator {
    Named(String),
    Every { every: usize },
    Random { random: usize },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Observations {
    pub pairs: usize,
    pub noise: f64,
    pub operator: Operator,
}

impl Default for Observations {
    fn default() -> Self {
        Observations {
            pairs: 10,
            noise: 0.01,
            operator: Operator::Named("full".into()),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Assimilation {
    pub method: String,
    pub members: usize,
    pub perturbation: f64,
    pub inflation: f64,
    pub localization: f64,
}

impl Default for Assimilation {
    fn default() -> Self {
        Assimilation {
            method: "auto".into(),
            members: 100,
            perturbation: 0.25,
            inflation: 1.0,
            localization: 0.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Library {
    pub max_derivative: u32,
    pub max_power: u32,
    pub derivatives: String,
    pub propagator: bool,
    /// Explicit term list; replaces the polynomial library when given.
    pub terms: Option<Vec<String>>,
}

impl Default for Library {
    fn default() -> Self {
        Library {
            max_derivative: 4,
            max_power: 4,
            derivatives: "spectral".into(),
            propagator: true,
            terms: None,
        }
    }
}

/// `"auto"`, `"none"` or a number of modes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Projection {
    Named(String),
    Modes(usize),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Regression {
    pub method: String,
    pub prune_alpha: f64,
    pub tolerance: f64,
    pub projection: Projection,
}

impl Default for Regression {
    fn default() -> Self {
        Regression {
            method: "rvm".into(),
            prune_alpha: 1e2,
            tolerance: 1e-1,
            projection: Projection::Named("auto".into()),
        }
    }
}

impl Case {
    /// Reads and validates a case file; errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| MedidaError::io(path, e))?;
        Self::from_toml(&text).map_err(|e| MedidaError::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let case: Case = toml::from_str(text).map_err(|e| {
            MedidaError::Config(e.message().to_string() + &location(text, e.span()))
        })?;
        case.validate()?;
        Ok(case)
    }

    fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        if self.system.kind != "ks" {
            return bad(
                "system.kind",
                format!(
                    "unknown system `{}`: this build supports \"ks\"",
                    self.system.kind
                ),
            );
        }
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
            ("regression.prune_alpha", self.regression.prune_alpha),
            ("regression.tolerance", self.regression.tolerance),
            ("assimilation.inflation", self.assimilation.inflation),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(key, format!("{value} must be positive and finite"));
            }
        }
        for (key, value) in [
            ("truth.spinup", self.truth.spinup),
            ("observations.noise", self.observations.noise),
            ("assimilation.perturbation", self.assimilation.perturbation),
            ("assimilation.localization", self.assimilation.localization),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(key, format!("{value} must be non-negative and finite"));
            }
        }
        if self.observations.pairs == 0 {
            return bad("observations.pairs", "need at least one sample pair".into());
        }
        match &self.observations.operator {
            Operator::Named(n) if n == "full" => {}
            Operator::Named(n) => {
                return bad(
                    "observations.operator",
                    format!("`{n}`: use \"full\", {{ every = k }} or {{ random = n }}"),
                )
            }
            Operator::Every { every } if *every == 0 => {
                return bad("observations.operator.every", "must be at least 1".into())
            }
            Operator::Random { random } if *random == 0 || *random > self.system.points => {
                return bad(
                    "observations.operator.random",
                    format!("{random} points: choose 1..={}", self.system.points),
                )
            }
            _ => {}
        }
        match self.assimilation.method.as_str() {
            "auto" | "none" => {}
            "enkf" | "etkf" | "letkf" => {
                if self.observations.noise == 0.0 {
                    return bad(
                        "assimilation.method",
                        format!("\"{}\" needs observations.noise > 0 (R must be positive definite)", self.assimilation.method),
                    );
                }
                if self.assimilation.members < 2 {
                    return bad("assimilation.members", format!("{} members: an ensemble needs at least 2", self.assimilation.members));
                }
            }
            other => return bad("assimilation.method", format!("unknown method `{other}`: use \"auto\", \"none\", \"enkf\", \"etkf\" or \"letkf\"")),
        }
        if !matches!(
            self.library.derivatives.as_str(),
            "spectral" | "finite-difference"
        ) {
            return bad(
                "library.derivatives",
                format!(
                    "`{}`: use \"spectral\" or \"finite-difference\"",
                    self.library.derivatives
                ),
            );
        }
        if let Projection::Named(n) = &self.regression.projection {
            if n != "auto" && n != "none" {
                return bad(
                    "regression.projection",
                    format!("`{n}`: use \"auto\", \"none\" or a number of modes"),
                );
            }
        }
        self.regression
            .method
            .parse::<crate::rvm::RvmMethod>()
            .map_err(|e| MedidaError::Config(format!("`regression.method`: {e}")))?;
        self.model
            .scheme
            .parse::<crate::solvers::Scheme>()
            .map_err(|e| MedidaError::Config(format!("`model.scheme`: {e}")))?;
        for (key, rhs) in [
            ("truth.rhs", &self.truth.rhs),
            ("model.rhs", &self.model.rhs),
        ] {
            for name in rhs.keys() {
                name.parse::<crate::solvers::Term>()
                    .map_err(|e| MedidaError::Config(format!("`{key}`: {e}")))?;
            }
        }
        if let Some(terms) = &self.library.terms {
            for name in terms {
                name.parse::<crate::solvers::Term>()
                    .map_err(|e| MedidaError::Config(format!("`library.terms`: {e}")))?;
            }
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
        Ok(())
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_takes_the_defaults() {
        let case = Case::from_toml("").unwrap();
        assert_eq!(case.system.points, 1024);
        assert_eq!(case.model.scheme, "cnab2");
        assert_eq!(case.regression.projection, Projection::Named("auto".into()));
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = Case::from_toml("[observations]\npairz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pairz"), "{err}");
        let err = Case::from_toml("nmae = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("nmae"), "{err}");
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
        ] {
            let err = Case::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn operator_forms_parse() {
        let case = Case::from_toml("[observations]\noperator = { every = 4 }\n").unwrap();
        assert_eq!(case.observations.operator, Operator::Every { every: 4 });
        let case = Case::from_toml("[regression]\nprojection = 50\n").unwrap();
        assert_eq!(case.regression.projection, Projection::Modes(50));
    }
}
