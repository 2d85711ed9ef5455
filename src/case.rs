//! Case files (TOML, interfaces.md), read once into typed settings. The sections every system
//! shares — `[observations]`, `[assimilation]`, `[library]`, `[regression]` — are parsed and
//! checked here, with one meaning per key; `[system] kind` selects the system whose own
//! settings (`[system]`, `[truth]`, `[model]`, `[interpolation]` and its `[library]` keys)
//! the system's file parses (see [`crate::systems`]). Unknown keys are errors naming the key.

use crate::error::{MedidaError, Result};
use crate::observe::sensors::SensorLayout;
use crate::regression::rvm::RvmMethod;
pub use crate::regression::sweep::PruneAlpha;
use crate::systems::SystemSettings;
use serde::Deserialize;
use std::path::Path;

/// One discovery, as a case file describes it.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// One seed makes the whole run reproducible on any machine and thread count.
    pub seed: u64,
    pub system: SystemSettings,
    pub observations: Observations,
    pub assimilation: Assimilation,
    pub library: Library,
    pub regression: Regression,
}

/// The file as written: shared sections typed, the system's own sections kept as tables for
/// the system to parse.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    system: toml::Table,
    truth: Option<toml::Table>,
    #[serde(default)]
    model: toml::Table,
    #[serde(default)]
    interpolation: toml::Table,
    #[serde(default)]
    observations: Observations,
    #[serde(default)]
    assimilation: Assimilation,
    #[serde(default)]
    library: Library,
    #[serde(default)]
    regression: Regression,
}

fn default_name() -> String {
    "unnamed".into()
}
fn default_seed() -> u64 {
    7
}

/// The system's own sections, for its settings parser.
pub struct SystemSections {
    pub system: toml::Table,
    pub truth: toml::Table,
    pub model: toml::Table,
    pub interpolation: toml::Table,
}

/// Parses one of a system's own sections into its settings type; errors name the section.
pub fn section<T: serde::de::DeserializeOwned>(name: &str, table: &toml::Table) -> Result<T> {
    T::deserialize(toml::Value::Table(table.clone()))
        .map_err(|e| MedidaError::Config(format!("`[{name}]`: {}", e.message())))
}

/// `"full"`, `{ every = k }` or `{ random = n }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Operator {
    Named(String),
    Every { every: usize },
    Random { random: usize },
}

/// Relative noise at or above which nothing can be learned (the noise is the signal's size).
pub const MAX_NOISE: f64 = 1.0;

/// Sensors per library column below which a fit through them cannot separate the columns.
pub const MIN_SENSORS_PER_COLUMN: usize = 2;

/// `observations.noise`: a number, or `"auto"` (estimated from a file's data).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    Given(f64),
    Auto,
}

impl<'de> Deserialize<'de> for Noise {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Threshold::deserialize(d)? {
            Threshold::Fixed(v) => Ok(Noise::Given(v)),
            Threshold::Named(n) if n == "auto" => Ok(Noise::Auto),
            Threshold::Named(n) => Err(serde::de::Error::custom(format!(
                "`{n}`: observations.noise is a number or \"auto\""
            ))),
        }
    }
}

/// `[observations]`: how many pairs, how noisy, where the sensors are, or the file that
/// holds them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Observations {
    /// Twin experiments: the number of pairs. From a file: 0 = every pair it holds, n = n
    /// pairs spread evenly over them.
    pub pairs: usize,
    /// Std of the noise / std of the observed field at that time (0 = exact); `"auto"`
    /// (files only) estimates it from the data.
    pub noise: Noise,
    /// Observations from a `.npz` file instead of a simulated truth (path relative to the
    /// case file).
    pub file: Option<std::path::PathBuf>,
    /// Observations held in memory, in the file's layout (the Python `discover`; no key).
    #[serde(skip)]
    pub arrays: Option<std::sync::Arc<crate::observe::file::Arrays>>,
    /// Time between the two observations of a pair: `"auto"` (the default) or a whole
    /// number of model steps.
    pub interval: Option<Threshold>,
    /// `"full"`, `{ every = k }` or `{ random = n }` grid points.
    pub operator: Operator,
    /// Fraction of grid points with a sensor, in (0, 1]: the same as `{ random = n }` with
    /// n = round(fraction × points).
    pub fraction: f64,
    /// Twin experiments: `"auto"` (the default) holds the pairs in memory while they are
    /// small and streams them (made again on every pass, memory flat in their number) once
    /// they are not; `"always"` or `"never"` decide; a number streams that many pairs at a
    /// time.
    pub streaming: Option<Threshold>,
}

impl Default for Observations {
    fn default() -> Self {
        Observations {
            pairs: 10,
            noise: Noise::Given(0.01),
            file: None,
            arrays: None,
            interval: None,
            operator: Operator::Named("full".into()),
            fraction: 1.0,
            streaming: None,
        }
    }
}

/// `observations.streaming`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    Auto,
    /// Streamed, this many pairs at a time.
    Always(usize),
    Never,
}

/// Most model steps one window may span.
pub const MAX_WINDOW_STEPS: usize = 100_000;

/// `observations.interval` in model steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The engine chooses from the data ([`crate::pipeline::window::choose`]).
    Auto,
    Steps(usize),
}

impl Observations {
    /// `observations.streaming`.
    pub fn streaming(&self) -> Result<Streaming> {
        let bad = |what: String| {
            Err(MedidaError::Config(format!(
                "`observations.streaming`: {what}: give \"auto\", \"always\", \"never\" or a number of pairs at a time"
            )))
        };
        match &self.streaming {
            None => Ok(Streaming::Auto),
            Some(Threshold::Named(n)) => match n.as_str() {
                "auto" => Ok(Streaming::Auto),
                "always" => Ok(Streaming::Always(crate::pipeline::pairs::STREAM_CHUNK)),
                "never" => Ok(Streaming::Never),
                other => bad(format!("\"{other}\"")),
            },
            Some(Threshold::Fixed(v)) if *v >= 1.0 && v.fract() == 0.0 && *v < 1e9 => {
                Ok(Streaming::Always(*v as usize))
            }
            Some(Threshold::Fixed(v)) => bad(format!("{v}")),
        }
    }

    /// `observations.interval` in model steps of `dt`.
    pub fn window(&self, dt: f64) -> Result<Window> {
        let bad = |why: String| {
            Err(MedidaError::Config(format!(
                "`observations.interval`: {why}"
            )))
        };
        match &self.interval {
            None => Ok(Window::Auto),
            Some(Threshold::Named(n)) if n == "auto" => Ok(Window::Auto),
            Some(Threshold::Named(n)) => bad(format!("\"{n}\": give \"auto\" or a time")),
            Some(Threshold::Fixed(v)) => {
                let steps = v / dt;
                if !(v.is_finite() && *v > 0.0) {
                    return bad(format!("{v}: must be a positive time"));
                }
                let whole = steps.round();
                if (steps - whole).abs() > 1e-6 * whole.max(1.0) || whole < 1.0 {
                    return bad(format!(
                        "{v}: not a whole number of model steps (model.dt = {dt}: {steps:.4} steps)"
                    ));
                }
                if whole > MAX_WINDOW_STEPS as f64 {
                    return bad(format!(
                        "{v}: {whole:e} model steps; at most {MAX_WINDOW_STEPS} steps per window"
                    ));
                }
                Ok(Window::Steps(whole as usize))
            }
        }
    }

    /// The observations come from data (a file or arrays), not from a simulated truth.
    pub fn from_data(&self) -> bool {
        self.file.is_some() || self.arrays.is_some()
    }

    /// The sensor layout on a grid of `points` points.
    pub fn sensors(&self, points: usize) -> Result<SensorLayout> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        if self.fraction < 1.0 {
            if self.operator != Operator::Named("full".into()) {
                return bad(
                    "observations.fraction",
                    "give either `operator` or `fraction`, not both".into(),
                );
            }
            let count = ((self.fraction * points as f64).round() as usize).clamp(1, points);
            return Ok(SensorLayout::Random(count));
        }
        match &self.operator {
            Operator::Named(n) if n == "full" => Ok(SensorLayout::Full),
            Operator::Named(n) => bad(
                "observations.operator",
                format!("`{n}`: use \"full\", {{ every = k }} or {{ random = n }}"),
            ),
            Operator::Every { every } if *every == 0 => {
                bad("observations.operator.every", "must be at least 1".into())
            }
            Operator::Every { every } => Ok(SensorLayout::Every(*every)),
            Operator::Random { random } if *random == 0 || *random > points => bad(
                "observations.operator.random",
                format!("{random} points: choose 1..={points}"),
            ),
            Operator::Random { random } => Ok(SensorLayout::Random(*random)),
        }
    }
}

/// How the analysis at the end of each pair is made.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AssimilationMethod {
    /// The engine's choice: the observation itself (measured best, README).
    Auto,
    None,
    /// Perturbed-observation EnKF (the KS paper's).
    Enkf,
    Etkf,
    Letkf,
}

impl AssimilationMethod {
    pub fn name(self) -> &'static str {
        match self {
            AssimilationMethod::Auto | AssimilationMethod::None => "none",
            AssimilationMethod::Enkf => "enkf",
            AssimilationMethod::Etkf => "etkf",
            AssimilationMethod::Letkf => "letkf",
        }
    }

    /// True for the ensemble filters.
    pub fn is_ensemble(self) -> bool {
        !matches!(self, AssimilationMethod::Auto | AssimilationMethod::None)
    }
}

/// `[assimilation]`: the isolated-pair ensemble analysis.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Assimilation {
    pub method: AssimilationMethod,
    pub members: usize,
    /// Std of the initial-state perturbations, in the units of the observed field.
    pub perturbation: f64,
    /// Multiplicative inflation.
    pub inflation: f64,
    /// Gaspari–Cohn half-width in x units (0 = none; the LETKF needs one).
    pub localization: f64,
    /// 0: the paper's isolated pair (members start from the estimate at the pair's start, one
    /// analysis at its end). n ≥ 1: a cycled filter, started n model steps before the pair
    /// from the observation there, analyses every step through the pair, whose every level
    /// is then the analysis mean.
    pub cycles: usize,
}

impl Assimilation {
    /// Model steps of observations before each pair a run uses: the cycles of a cycled
    /// ensemble filter, none otherwise.
    pub fn history(&self) -> usize {
        if self.method.is_ensemble() {
            self.cycles
        } else {
            0
        }
    }
}

impl Default for Assimilation {
    fn default() -> Self {
        Assimilation {
            method: AssimilationMethod::Auto,
            members: 100,
            perturbation: 0.25,
            inflation: 1.0,
            localization: 0.0,
            cycles: 0,
        }
    }
}

/// A number or `"auto"` (`regression.prune_alpha`, `library.lowpass`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Threshold {
    Fixed(f64),
    Named(String),
}

/// `[library]`: the keys of every system, then those of one system (the system checks that
/// keys of another system are absent).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Library {
    /// An explicit term list (empty: the system's default library).
    pub terms: Vec<String>,
    /// Apply the model's one-step linear propagator to every column (KS: φ(dt·L); QG: the
    /// implicit hyperviscous damping).
    pub propagator: Option<bool>,
    /// KS family: the polynomial library's highest derivative and power, and how derivatives
    /// are computed.
    pub max_derivative: Option<u32>,
    pub max_power: Option<u32>,
    pub derivatives: Option<String>,
    /// QG: grid points cut from every edge, the low-pass wavenumber, thinning of the rows.
    pub edge_cut: Option<usize>,
    pub lowpass: Option<Threshold>,
    pub thin: Option<bool>,
}

impl Library {
    pub fn propagator(&self) -> bool {
        self.propagator.unwrap_or(true)
    }

    /// The system-specific keys this section sets.
    pub fn system_keys(&self) -> Vec<&'static str> {
        [
            ("max_derivative", self.max_derivative.is_some()),
            ("max_power", self.max_power.is_some()),
            ("derivatives", self.derivatives.is_some()),
            ("edge_cut", self.edge_cut.is_some()),
            ("lowpass", self.lowpass.is_some()),
            ("thin", self.thin.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

/// `"auto"`, `"none"` or a number of modes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Projection {
    Named(String),
    Modes(usize),
}

/// `[regression]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Regression {
    pub method: String,
    /// A number, `"auto"`, or absent: the system's default (KS 1e2, the paper's; QG auto).
    pub prune_alpha: Option<Threshold>,
    pub tolerance: f64,
    /// prune_alpha = "auto": the sparsest model of the sweep explaining all but this fraction
    /// of what the sweep's best model explains.
    pub knee: f64,
    /// KS family: regress on the lowest Fourier modes ("auto" from the noise floor).
    pub projection: Projection,
}

impl Default for Regression {
    fn default() -> Self {
        Regression {
            method: "rvm".into(),
            prune_alpha: None,
            tolerance: 1e-1,
            knee: 0.02,
            projection: Projection::Named("auto".into()),
        }
    }
}

impl Regression {
    /// The typed threshold choice; automatic (the knee of the sweep) where the case gives none.
    pub fn prune_alpha(&self) -> PruneAlpha {
        match &self.prune_alpha {
            None => PruneAlpha::Auto,
            Some(Threshold::Fixed(a)) => PruneAlpha::Fixed(*a),
            Some(Threshold::Named(_)) => PruneAlpha::Auto,
        }
    }

    pub fn rvm_method(&self) -> Result<RvmMethod> {
        self.method
            .parse::<RvmMethod>()
            .map_err(|e| MedidaError::Config(format!("`regression.method`: {e}")))
    }
}

impl Case {
    /// Reads and validates a case file; errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| MedidaError::io(path, e))?;
        Self::from_file_text(path, &text)
    }

    /// A case file's `text`, read from `path` (errors name it; an observation file is
    /// relative to its folder).
    pub fn from_file_text(path: &Path, text: &str) -> Result<Self> {
        let mut case = Self::from_toml(text)
            .map_err(|e| MedidaError::Config(format!("{}: {e}", path.display())))?;
        case.resolve_file(path.parent().unwrap_or(Path::new(".")));
        Ok(case)
    }

    /// An observation file is relative to the case file's folder `dir`.
    pub fn resolve_file(&mut self, dir: &Path) {
        if let Some(file) = &self.observations.file {
            if file.is_relative() {
                self.observations.file = Some(dir.join(file));
            }
        }
    }

    /// The noise level as given (a number); `"auto"` has none until a file's data are read.
    pub fn given_noise(&self) -> Option<f64> {
        match self.observations.noise {
            Noise::Given(v) => Some(v),
            Noise::Auto => None,
        }
    }

    /// The noise level of a twin experiment (validated: a number).
    pub fn noise(&self) -> f64 {
        self.given_noise().unwrap_or(0.0)
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        Self::from_toml_with(text, None)
    }

    /// A case whose observations are arrays held in memory (the Python `discover`): the
    /// TOML has no `observations.file` and no `[truth]`.
    pub fn with_arrays(text: &str, arrays: crate::observe::file::Arrays) -> Result<Self> {
        Self::from_toml_with(text, Some(std::sync::Arc::new(arrays)))
    }

    fn from_toml_with(
        text: &str,
        arrays: Option<std::sync::Arc<crate::observe::file::Arrays>>,
    ) -> Result<Self> {
        let file: CaseFile = toml::from_str(text).map_err(|e| {
            MedidaError::Config(e.message().to_string() + &location(text, e.span()))
        })?;
        let mut observations = file.observations;
        if arrays.is_some() {
            if observations.file.is_some() {
                return Err(MedidaError::Config(
                    "`observations.file`: the observations are the arrays given; remove the key"
                        .into(),
                ));
            }
            observations.arrays = arrays;
        }
        if file.truth.is_some() && observations.from_data() {
            return Err(MedidaError::Config(
                "`[truth]` and `observations.file` exclude each other: observations from a file need no simulated truth; remove the `[truth]` section".into(),
            ));
        }
        let sections = SystemSections {
            system: file.system,
            truth: file.truth.unwrap_or_default(),
            model: file.model,
            interpolation: file.interpolation,
        };
        let case = Case {
            name: file.name,
            seed: file.seed,
            system: SystemSettings::parse(sections, &file.library)?,
            observations,
            assimilation: file.assimilation,
            library: file.library,
            regression: file.regression,
        };
        case.validate()?;
        Ok(case)
    }

    /// Checks the shared sections, then the system's own.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(MedidaError::Config(format!("`{key}`: {why}")));
        let o = &self.observations;
        if o.pairs == 0 && !o.from_data() {
            return bad("observations.pairs", "need at least one sample pair".into());
        }
        match o.noise {
            Noise::Given(v) if !(v.is_finite() && v >= 0.0) => {
                return bad("observations.noise", format!("{v}: must be ≥ 0"));
            }
            Noise::Given(v) if v >= MAX_NOISE => {
                return bad(
                    "observations.noise",
                    format!("{v}: noise as large as the signal itself (std of the noise ≥ std of the field); nothing can be learned from such observations"),
                );
            }
            Noise::Auto if !o.from_data() => {
                return bad(
                    "observations.noise",
                    "\"auto\" estimates the noise from observation files (`observations.file`); a twin experiment needs the noise it adds as a number".into(),
                );
            }
            _ => {}
        }
        if let Window::Steps(n) = o.window(self.system.dt())? {
            if n > 1 && self.assimilation.method.is_ensemble() {
                return bad(
                    "observations.interval",
                    format!("{n} model steps with `assimilation.method` = \"{}\": the ensemble filters forecast their members one model step between observations; use one step (model.dt) or \"none\"", self.assimilation.method.name()),
                );
            }
        }
        if matches!(o.streaming()?, Streaming::Always(_)) && o.from_data() {
            return bad(
                "observations.streaming",
                "streaming makes the pairs of a twin experiment again on every pass; a file's pairs are read once and held (remove the key)".into(),
            );
        }
        if o.from_data() && (o.operator != Operator::Named("full".into()) || o.fraction < 1.0) {
            return bad(
                "observations.operator",
                "observations from a file say where they were made themselves (NaN = not observed); remove `operator` and `fraction`".into(),
            );
        }
        if !(o.fraction > 0.0 && o.fraction <= 1.0) {
            return bad(
                "observations.fraction",
                format!("{}: the sensor fraction must lie in (0, 1]", o.fraction),
            );
        }
        let points = self.system.points();
        let count = match o.sensors(points)? {
            SensorLayout::Full => points,
            SensorLayout::Every(k) => points.div_ceil(k),
            SensorLayout::Random(n) => n,
        };
        let columns = self.system.library_columns(&self.library);
        if count < points && count < MIN_SENSORS_PER_COLUMN * columns {
            return bad(
                if o.fraction < 1.0 { "observations.fraction" } else { "observations.operator" },
                format!(
                    "{count} sensors per field for a library of {columns} columns: a field fitted through n sensors has at most n/4 Fourier modes, too few to tell {columns} terms apart; use at least {} sensors or a smaller library",
                    MIN_SENSORS_PER_COLUMN * columns
                ),
            );
        }
        let a = &self.assimilation;
        if a.cycles > 0 && !a.method.is_ensemble() {
            return bad(
                "assimilation.cycles",
                format!(
                    "{}: cycles need an ensemble filter (`assimilation.method` = \"enkf\", \"etkf\" or \"letkf\")",
                    a.cycles
                ),
            );
        }
        if a.method.is_ensemble() {
            if a.members < 2 {
                return bad(
                    "assimilation.members",
                    format!("{} members: an ensemble filter needs at least 2", a.members),
                );
            }
            if o.noise == Noise::Given(0.0) {
                return bad(
                    "assimilation.method",
                    format!(
                        "\"{}\" needs observations.noise > 0 (a filter weighs the observations by their error variance)",
                        a.method.name()
                    ),
                );
            }
            if a.method == AssimilationMethod::Letkf
                && !(a.localization.is_finite() && a.localization > 0.0)
            {
                return bad(
                    "assimilation.localization",
                    format!(
                        "{}: the LETKF needs a positive Gaspari–Cohn half-width (x units)",
                        a.localization
                    ),
                );
            }
        }
        for (key, value) in [
            ("assimilation.inflation", a.inflation),
            ("regression.tolerance", self.regression.tolerance),
            ("regression.knee", self.regression.knee),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(key, format!("{value} must be positive and finite"));
            }
        }
        for (key, value) in [
            ("assimilation.perturbation", a.perturbation),
            ("assimilation.localization", a.localization),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(key, format!("{value} must be non-negative and finite"));
            }
        }
        if a.method.is_ensemble() && a.perturbation == 0.0 {
            return bad(
                "assimilation.perturbation",
                "must be positive for an ensemble filter".into(),
            );
        }
        match &self.regression.prune_alpha {
            Some(Threshold::Named(n)) if n != "auto" => {
                return bad(
                    "regression.prune_alpha",
                    format!("`{n}`: a number or \"auto\""),
                )
            }
            Some(Threshold::Fixed(v)) if !(v.is_finite() && *v > 0.0) => {
                return bad(
                    "regression.prune_alpha",
                    format!("{v} must be positive and finite"),
                )
            }
            _ => {}
        }
        if let Projection::Named(n) = &self.regression.projection {
            if n != "auto" && n != "none" {
                return bad(
                    "regression.projection",
                    format!("`{n}`: use \"auto\", \"none\" or a number of modes"),
                );
            }
        }
        self.regression.rvm_method()?;
        self.system.validate(self)
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
    fn unknown_keys_are_errors_naming_the_key() {
        let err = Case::from_toml("[observations]\npairz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pairz"), "{err}");
        let err = Case::from_toml("nmae = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("nmae"), "{err}");
        let err = Case::from_toml("[truth]\nspinupp = 3.0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spinupp"), "{err}");
    }

    #[test]
    fn an_unknown_filter_is_an_error_not_an_enkf() {
        let err = Case::from_toml("[assimilation]\nmethod = \"3dvar\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("3dvar"), "{err}");
    }

    #[test]
    fn cycles_need_an_ensemble_filter() {
        let err = Case::from_toml("[assimilation]\ncycles = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("assimilation.cycles"), "{err}");
        Case::from_toml("[assimilation]\nmethod = \"etkf\"\ncycles = 5\n").unwrap();
    }

    #[test]
    fn operator_and_fraction_describe_the_same_sensors() {
        let case = Case::from_toml("[observations]\noperator = { every = 4 }\n").unwrap();
        assert_eq!(case.observations.operator, Operator::Every { every: 4 });
        let case = Case::from_toml("[observations]\nfraction = 0.25\n").unwrap();
        assert_eq!(
            case.observations.sensors(1024).unwrap(),
            SensorLayout::Random(256)
        );
        let err = Case::from_toml("[observations]\nfraction = 0.25\noperator = { random = 4 }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("observations.fraction"), "{err}");
    }

    #[test]
    fn keys_of_another_system_are_errors() {
        let err = Case::from_toml("[library]\nedge_cut = 4\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("library.edge_cut"), "{err}");
        let err = Case::from_toml("[system]\nkind = \"qg\"\n[library]\nmax_power = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("library.max_power"), "{err}");
    }
}
