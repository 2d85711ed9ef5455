//! What a run found: per regressed component the fit and its equation, the expected and
//! corrected models, the forecast skill, timings, and the data behind the figures.

use crate::regression::equation::Equation;
use crate::regression::rvm::RvmFit;
use crate::regression::sweep::SweepPoint;
use ndarray::Array2;

/// Wall-clock seconds per stage.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub truth: f64,
    pub forecast: f64,
    /// Interpolation from sensors and ensemble analyses.
    pub assimilation: f64,
    pub regression: f64,
    pub skill: f64,
}

/// The regression of one component (`u`; `q1`, `q2`).
#[derive(Clone, Debug)]
pub struct ComponentDiscovery {
    pub name: String,
    pub fit: RvmFit,
    pub equation: Equation,
    /// truth − model, term by term (empty without a truth).
    pub expected: Vec<(String, f64)>,
    /// model + discovered, term by term.
    pub corrected: Vec<(String, f64)>,
    /// The regression refitted over a range of thresholds (the model-choice figure).
    pub sweep: Vec<SweepPoint>,
    /// The threshold of the reported fit.
    pub prune_alpha: f64,
    /// Whether it was chosen from the sweep (`prune_alpha = "auto"`).
    pub automatic: bool,
    /// The automatic choice found no term the data support, and why.
    pub unsupported: Option<crate::regression::sweep::Unsupported>,
    /// Inclusion frequencies and the held-out score of the chosen model.
    pub stability: crate::regression::resample::Stability,
}

/// Forecast skill of the imperfect and corrected models against the truth.
#[derive(Clone, Debug)]
pub struct ForecastSkill {
    pub times: Vec<f64>,
    pub imperfect_error: Vec<f64>,
    pub corrected_error: Vec<f64>,
    /// The relative error whose first crossing is reported.
    pub threshold: f64,
    pub horizon: f64,
    /// First time the relative error reaches the threshold (None: not within the horizon).
    pub imperfect_time_to_half: Option<f64>,
    pub corrected_time_to_half: Option<f64>,
    /// Why the corrected run stopped early, if it did.
    pub corrected_failure: Option<String>,
}

/// The first pair as figures show it.
#[derive(Clone, Debug)]
pub enum Sample {
    /// A 1-D field: the truth at the sample times, the increment and its reconstruction.
    Line {
        x: Vec<f64>,
        sample_times: Vec<f64>,
        sample_states: Array2<f64>,
        increment: Vec<f64>,
        reconstruction: Vec<f64>,
    },
    /// Maps of a 2-D multi-layer field (ny × nx each): the state per layer, and per
    /// component the increment and its reconstruction inside the edge cut.
    Maps {
        x: Vec<f64>,
        y: Vec<f64>,
        edge_cut: usize,
        /// Label of the mapped state (e.g. "PV anomaly q").
        state_label: String,
        state: Vec<Array2<f64>>,
        increment: Vec<Array2<f64>>,
        reconstruction: Vec<Array2<f64>>,
    },
}

/// Everything a run found, for printing, JSON and figures.
#[derive(Clone, Debug)]
pub struct Discovery {
    pub name: String,
    pub system: &'static str,
    pub components: Vec<ComponentDiscovery>,
    pub pairs: usize,
    /// Rows per component.
    pub rows: usize,
    /// The Fourier modes the row map keeps, when it projects.
    pub projection_modes: Option<usize>,
    /// The row map in words.
    pub row_map: String,
    /// "none", "enkf", "etkf", "letkf".
    pub assimilation: String,
    pub members: Option<usize>,
    pub noise: f64,
    /// Sensor points (None: every grid point).
    pub sensors: Option<Vec<usize>>,
    pub interpolator: Option<String>,
    pub seconds: Timings,
    pub skill: Option<ForecastSkill>,
    pub sample: Option<Sample>,
    /// Observations from a file: where, and the forecasts against its later snapshots.
    pub file: Option<FileValidation>,
    /// What the run's own diagnostics say against trusting it ([`warnings`]).
    pub warnings: Vec<String>,
    /// Model steps between the last start level and the end of a pair, and the model step.
    pub window: usize,
    pub dt: f64,
    /// What `observations.interval = "auto"` measured (None: one window only).
    pub window_choice: Option<crate::pipeline::window::WindowChoice>,
    /// Pairs made at a time when they were streamed (None: held in memory).
    pub streamed: Option<usize>,
}

/// Held-out explained fraction below which the discovered terms are said to explain little.
pub const WEAK_EXPLANATION: f64 = 0.1;

/// Refinement updates above this (relative) mean the coefficients had not settled.
pub const UNSETTLED: f64 = 1e-3;

/// The run completed, but its diagnostics say the result is weak: the discovered terms
/// explain little of unseen pairs, the RVM or the refinement did not converge, or the
/// corrected model fails or forecasts worse than the imperfect one.
pub fn warnings(d: &Discovery, refinement: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    let many = d.components.len() > 1;
    for c in &d.components {
        let who = if many {
            format!("{}: ", c.name)
        } else {
            String::new()
        };
        if !c.fit.converged {
            out.push(format!(
                "{who}the RVM did not converge in {} iterations; its coefficients are not the evidence optimum",
                c.fit.iterations
            ));
        }
        if let Some(h) = c.stability.held_out {
            if !c.fit.retained.is_empty() && h.explained < WEAK_EXPLANATION {
                out.push(format!(
                    "{who}the discovered terms explain only {:.1} % of the increment on held-out pairs: most of it is noise or an error the library cannot express",
                    100.0 * h.explained
                ));
            }
        }
    }
    if let Some(change) = refinement.filter(|&c| c > UNSETTLED) {
        out.push(format!(
            "the refinement had not settled: its last pass still moved a coefficient by {:.2} % (the error may be too large for a one-step linearisation)",
            100.0 * change
        ));
    }
    let failure = d
        .skill
        .as_ref()
        .and_then(|s| s.corrected_failure.clone())
        .or_else(|| d.file.as_ref().and_then(|f| f.corrected_failure.clone()));
    if let Some(why) = failure {
        out.push(format!(
            "the corrected model fails in its forecast check: {why}"
        ));
    }
    if let Some(s) = &d.skill {
        let (i, c) = (
            s.imperfect_error.last().copied().unwrap_or(0.0),
            s.corrected_error.last().copied().unwrap_or(0.0),
        );
        if s.corrected_failure.is_none()
            && c > i
            && d.components.iter().any(|k| !k.fit.retained.is_empty())
        {
            out.push(format!(
                "the corrected model forecasts worse than the imperfect one (relative error {c:.2e} against {i:.2e} at t = {})",
                s.horizon
            ));
        }
    }
    out
}

/// A run from an observation file: the file, the noise estimate, and the forecast errors of
/// the imperfect and corrected models against the file's later snapshots (relative errors
/// ‖forecast − observed‖/‖observed‖ over the observed points).
#[derive(Clone, Debug)]
pub struct FileValidation {
    pub path: String,
    pub pairs_available: usize,
    pub noise_estimate: Option<f64>,
    /// Times after the forecast start (the first pair's start).
    pub times: Vec<f64>,
    pub imperfect_error: Vec<f64>,
    pub corrected_error: Vec<f64>,
    /// Why the corrected forecast stopped early, if it did.
    pub corrected_failure: Option<String>,
}

impl Discovery {
    /// (exactly the expected terms found in every component, worst relative coefficient
    /// error over the expected terms; a missed term counts as 100 %), when a truth is known.
    pub fn outcome(&self) -> Option<(bool, f64)> {
        if self.components.iter().all(|c| c.expected.is_empty()) {
            return None;
        }
        Some(
            self.components
                .iter()
                .fold((true, 0.0f64), |(exact, worst), c| {
                    let (e, w) = c.fit.compare(&c.expected);
                    (exact && e, worst.max(w))
                }),
        )
    }
}
