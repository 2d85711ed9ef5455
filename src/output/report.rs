//! The JSON report of interfaces.md and the printed summary, one type for every system
//! (terms of a multi-component system carry their `layer`, 1-based).

use crate::error::{MedidaError, Result};
use crate::pipeline::discovery::{ComponentDiscovery, Discovery, FileValidation, ForecastSkill};
use crate::regression::equation::Equation;
use crate::regression::resample::{Stability, FOLDS};
use crate::regression::rvm::RvmFit;
use crate::regression::sweep::Unsupported;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Serialize)]
pub struct TermReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    pub term: String,
    pub coefficient: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// Fraction of bootstrap resamples of the pairs whose fit keeps the term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<f64>,
}

#[derive(Serialize)]
pub struct Seconds {
    pub truth: f64,
    pub forecast: f64,
    pub assimilation: f64,
    pub regression: f64,
    pub skill: f64,
}

/// The time until the relative forecast error reaches `threshold` (null: not within the
/// horizon).
#[derive(Serialize)]
pub struct SkillReport {
    pub threshold: f64,
    pub horizon: f64,
    pub imperfect: Option<f64>,
    pub corrected: Option<f64>,
    /// The relative errors at the horizon.
    pub imperfect_error: f64,
    pub corrected_error: f64,
}

/// One value for a single-component system, one per component otherwise.
#[derive(Serialize)]
#[serde(untagged)]
pub enum PerComponent<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> PerComponent<T> {
    fn of(mut values: Vec<T>) -> Self {
        if values.len() == 1 {
            PerComponent::One(values.remove(0))
        } else {
            PerComponent::Many(values)
        }
    }
}

#[derive(Serialize)]
pub struct ObservationReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub sensors: Option<usize>,
    pub noise: f64,
    pub interpolation: Option<String>,
    pub assimilation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<usize>,
    pub row_map: String,
    /// Time between the two observations of a pair, in model time and in model steps.
    pub interval: f64,
    pub window_steps: usize,
    /// `observations.interval = "auto"`: the windows tried and what was measured at each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_choice: Option<crate::pipeline::window::WindowChoice>,
    /// Pairs made at a time when the pairs were streamed (`observations.streaming`; null:
    /// held in memory).
    pub streamed: Option<usize>,
}

#[derive(Serialize)]
pub struct Report {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub discovered: Vec<TermReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Vec<TermReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_model: Option<Vec<TermReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_skill: Option<SkillReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
    pub rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<Seconds>,
    pub converged: bool,
    pub iterations: usize,
    pub noise_std: PerComponent<f64>,
    pub log_evidence: PerComponent<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune_alpha: Option<PerComponent<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_modes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observations: Option<ObservationReport>,
    /// Per component, why no term is supported by the data (automatic choice only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<PerComponent<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// `observations.noise = "auto"`: the noise level estimated from the file's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_estimate: Option<f64>,
    /// Library columns left out of the regression, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedReport>,
    /// What the run's own diagnostics say against trusting it (empty: nothing).
    pub warnings: Vec<String>,
}

/// How well the discovery generalises beyond the data that made it.
#[derive(Serialize)]
pub struct Validation {
    /// The fraction of the increment explained on held-out pairs (k-fold over the pairs;
    /// rows blocks for `medida fit`); null with a single pair.
    pub held_out_explained: PerComponent<Option<f64>>,
    pub folds: usize,
    /// Observation files: the imperfect and corrected models' relative forecast errors
    /// against the file's later snapshots (times after the first pair's start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastValidation>,
}

#[derive(Serialize)]
pub struct ForecastValidation {
    pub times: Vec<f64>,
    pub imperfect_error: Vec<f64>,
    pub corrected_error: Vec<f64>,
}

#[derive(Serialize)]
pub struct DroppedReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    pub term: String,
    pub reason: String,
}

fn dropped(fit: &RvmFit, layer: Option<usize>) -> Vec<DroppedReport> {
    fit.dropped
        .iter()
        .map(|d| DroppedReport {
            layer,
            term: d.name.clone(),
            reason: d.reason.clone(),
        })
        .collect()
}

/// The retained terms of a fit, with ± std and, where known, their inclusion frequency.
pub fn discovered_terms(
    fit: &RvmFit,
    inclusion: Option<&[f64]>,
    layer: Option<usize>,
) -> Vec<TermReport> {
    fit.retained
        .iter()
        .map(|&i| TermReport {
            layer,
            term: fit.names[i].clone(),
            coefficient: fit.coefficients[i],
            std: Some(fit.std[i]),
            inclusion: inclusion.map(|f| f[i]),
        })
        .collect()
}

fn plain(pairs: &[(String, f64)], layer: Option<usize>) -> Vec<TermReport> {
    pairs
        .iter()
        .map(|(term, coefficient)| TermReport {
            layer,
            term: term.clone(),
            coefficient: *coefficient,
            std: None,
            inclusion: None,
        })
        .collect()
}

impl Report {
    /// The report of `medida fit`: one regression on a user's matrix.
    pub fn from_fit(
        name: &str,
        fit: &RvmFit,
        prune_alpha: f64,
        stability: &Stability,
        unsupported: Option<&Unsupported>,
    ) -> Self {
        let inclusion = stability.inclusion.as_deref();
        Report {
            name: name.to_string(),
            system: None,
            discovered: discovered_terms(fit, inclusion, None),
            expected: None,
            corrected_model: None,
            forecast_skill: None,
            pairs: None,
            rows: fit.rows,
            seconds: None,
            converged: fit.converged,
            iterations: fit.iterations,
            noise_std: PerComponent::One(fit.noise_std()),
            log_evidence: PerComponent::One(evidence(fit)),
            prune_alpha: Some(PerComponent::One(prune_alpha)),
            projection_modes: None,
            observations: None,
            unsupported: unsupported.map(|u| PerComponent::One(Some(u.to_string()))),
            validation: Some(Validation {
                held_out_explained: PerComponent::One(stability.held_out.map(|h| h.explained)),
                folds: FOLDS,
                forecast: None,
            }),
            noise_estimate: None,
            dropped: dropped(fit, None),
            warnings: if fit.converged {
                Vec::new()
            } else {
                vec![format!(
                    "the RVM did not converge in {} iterations",
                    fit.iterations
                )]
            },
        }
    }

    pub fn from_discovery(d: &Discovery) -> Self {
        let many = d.components.len() > 1;
        let layer = |c: usize| many.then_some(c + 1);
        let each = |f: &dyn Fn(usize, &ComponentDiscovery) -> Vec<TermReport>| -> Vec<TermReport> {
            d.components
                .iter()
                .enumerate()
                .flat_map(|(c, k)| f(c, k))
                .collect()
        };
        let has_truth = d.components.iter().any(|c| !c.expected.is_empty()) || d.skill.is_some();
        Report {
            name: d.name.clone(),
            system: Some(d.system.to_string()),
            discovered: each(&|c, k| {
                discovered_terms(&k.fit, k.stability.inclusion.as_deref(), layer(c))
            }),
            expected: has_truth.then(|| each(&|c, k| plain(&k.expected, layer(c)))),
            corrected_model: Some(each(&|c, k| plain(&k.corrected, layer(c)))),
            forecast_skill: d.skill.as_ref().map(skill_report),
            pairs: Some(d.pairs),
            rows: d.rows,
            seconds: Some(Seconds {
                truth: d.seconds.truth,
                forecast: d.seconds.forecast,
                assimilation: d.seconds.assimilation,
                regression: d.seconds.regression,
                skill: d.seconds.skill,
            }),
            converged: d.components.iter().all(|c| c.fit.converged),
            iterations: d
                .components
                .iter()
                .map(|c| c.fit.iterations)
                .max()
                .unwrap_or(0),
            noise_std: PerComponent::of(d.components.iter().map(|c| c.fit.noise_std()).collect()),
            log_evidence: PerComponent::of(d.components.iter().map(|c| evidence(&c.fit)).collect()),
            prune_alpha: Some(PerComponent::of(
                d.components.iter().map(|c| c.prune_alpha).collect(),
            )),
            projection_modes: d.projection_modes,
            observations: Some(ObservationReport {
                file: d.file.as_ref().map(|f| f.path.clone()),
                sensors: d.sensors.as_ref().map(|s| s.len()),
                noise: d.noise,
                interpolation: d.interpolator.clone(),
                assimilation: d.assimilation.clone(),
                members: d.members,
                row_map: d.row_map.clone(),
                interval: d.window as f64 * d.dt,
                window_steps: d.window,
                window_choice: d.window_choice.clone(),
                streamed: d.streamed,
            }),
            unsupported: d
                .components
                .iter()
                .any(|c| c.unsupported.is_some())
                .then(|| {
                    PerComponent::of(
                        d.components
                            .iter()
                            .map(|c| c.unsupported.as_ref().map(|u| u.to_string()))
                            .collect(),
                    )
                }),
            validation: Some(Validation {
                held_out_explained: PerComponent::of(
                    d.components
                        .iter()
                        .map(|c| c.stability.held_out.map(|h| h.explained))
                        .collect(),
                ),
                folds: FOLDS,
                forecast: d.file.as_ref().map(|f| ForecastValidation {
                    times: f.times.clone(),
                    imperfect_error: f.imperfect_error.clone(),
                    corrected_error: f.corrected_error.clone(),
                }),
            }),
            noise_estimate: d.file.as_ref().and_then(|f| f.noise_estimate),
            dropped: d
                .components
                .iter()
                .enumerate()
                .flat_map(|(c, k)| dropped(&k.fit, layer(c)))
                .collect(),
            warnings: d.warnings.clone(),
        }
    }

    /// The report as the JSON text `--json` writes.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report is plain data")
    }

    /// Writes the JSON atomically: a failed run never leaves a partial file behind.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = self.to_json();
        let temporary = path.with_extension("json.partial");
        std::fs::write(&temporary, text + "\n").map_err(|e| MedidaError::io(&temporary, e))?;
        std::fs::rename(&temporary, path).map_err(|e| MedidaError::io(path, e))
    }
}

fn evidence(fit: &RvmFit) -> Option<f64> {
    fit.log_evidence.is_finite().then_some(fit.log_evidence)
}

fn skill_report(s: &ForecastSkill) -> SkillReport {
    SkillReport {
        threshold: s.threshold,
        horizon: s.horizon,
        imperfect: s.imperfect_time_to_half,
        corrected: s.corrected_time_to_half,
        imperfect_error: s.imperfect_error.last().copied().unwrap_or(f64::NAN),
        corrected_error: s.corrected_error.last().copied().unwrap_or(f64::NAN),
    }
}

/// The forecasts against a file's later snapshots, a few of them.
fn file_summary(s: &mut String, f: &FileValidation) {
    if f.times.is_empty() {
        let _ = writeln!(
            s,
            "validation       the file has no snapshot after the first pair within the forecast horizon"
        );
        return;
    }
    let _ = writeln!(
        s,
        "validation       relative forecast error against the file's later snapshots (from the first pair's start):"
    );
    let shown: Vec<usize> = if f.times.len() <= 5 {
        (0..f.times.len()).collect()
    } else {
        (0..5).map(|k| k * (f.times.len() - 1) / 4).collect()
    };
    for i in shown {
        let _ = writeln!(
            s,
            "                 t + {:<8.3} imperfect {:.2e}, corrected {:.2e}",
            f.times[i], f.imperfect_error[i], f.corrected_error[i]
        );
    }
    if let Some(why) = &f.corrected_failure {
        let _ = writeln!(s, "                 (corrected forecast stopped: {why})");
    }
}

/// How the data were observed and estimated, in words.
/// The window line of the summary (empty for one model step chosen without a choice).
fn window_summary(d: &Discovery) -> String {
    if d.window == 1 && d.window_choice.is_none() {
        return String::new();
    }
    let mut s = format!(
        "\nwindow: {} model step(s) (interval {:.4e}), sensitivity columns",
        d.window,
        d.window as f64 * d.dt
    );
    if d.window == 1 {
        s = format!("\nwindow: 1 model step (interval {:.4e})", d.dt);
    }
    if let Some(choice) = &d.window_choice {
        let shares: Vec<String> = choice
            .windows
            .iter()
            .zip(choice.increment.iter().zip(&choice.noise))
            .map(|(w, (v, n))| {
                let signal = v - n;
                if signal > 0.0 {
                    format!("{w}: {:.1e}", n / signal)
                } else {
                    format!("{w}: -")
                }
            })
            .collect();
        s.push_str(&format!(
            "; chosen by \"auto\" (noise/signal per window: {})",
            shares.join(", ")
        ));
    }
    s
}

fn observation_summary(d: &Discovery) -> String {
    if let Some(f) = &d.file {
        let noise = match f.noise_estimate {
            Some(v) => format!("noise estimated from the data: {v:.4} × std"),
            None => format!("noise {} × std (given)", d.noise),
        };
        let mut s = format!(
            "observations from {} ({} of its {} pairs at the model's step), {noise}",
            f.path, d.pairs, f.pairs_available
        );
        if let Some(p) = &d.sensors {
            let _ = write!(s, ", {} points observed", p.len());
        }
        if let Some(i) = &d.interpolator {
            let _ = write!(s, ", interpolation {i}");
        }
        let _ = write!(s, ", assimilation: {}", d.assimilation);
        return s;
    }
    let mut s = match (&d.sensors, d.noise) {
        (None, 0.0) => "full exact observations".to_string(),
        (None, n) => format!("full observations, noise {n} × std"),
        (Some(p), n) => format!(
            "{} sensors, noise {n} × std, interpolation {}",
            p.len(),
            d.interpolator.as_deref().unwrap_or("-")
        ),
    };
    let _ = write!(s, ", assimilation: {}", d.assimilation);
    if let Some(m) = d.members {
        let _ = write!(s, " ({m} members)");
    }
    s
}

/// The human summary of a run.
pub fn summary(d: &Discovery) -> String {
    let word = if d.components.len() > 1 {
        " per layer"
    } else {
        ""
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "case {}: {} pairs, {} rows{word}, {}\nrow map: {}{}",
        d.name,
        d.pairs,
        d.rows,
        observation_summary(d),
        d.row_map,
        window_summary(d)
    );
    for c in &d.components {
        component_summary(&mut s, c);
    }
    // The sweep is shown where it made the choice.
    if d.components.iter().any(|c| c.automatic) {
        sweep_summary(&mut s, d);
    }
    let _ = writeln!(s);
    for c in &d.components {
        let corrected = Equation::from_pairs(&format!("{}_t", c.name), &c.corrected);
        let _ = writeln!(s, "corrected model  {corrected}");
    }
    if let Some(f) = &d.file {
        file_summary(&mut s, f);
    }
    if let Some(skill) = &d.skill {
        let fmt = |t: Option<f64>| {
            t.map(|t| format!("{t:.1}"))
                .unwrap_or(format!("> {:.0}", skill.horizon))
        };
        let _ = writeln!(
            s,
            "forecast skill   time until the relative error reaches {}: imperfect {}, corrected {}",
            skill.threshold,
            fmt(skill.imperfect_time_to_half),
            fmt(skill.corrected_time_to_half)
        );
        let _ = writeln!(
            s,
            "                 relative error at t = {}: imperfect {:.2e}, corrected {:.2e}",
            skill.horizon,
            skill.imperfect_error.last().copied().unwrap_or(f64::NAN),
            skill.corrected_error.last().copied().unwrap_or(f64::NAN)
        );
        if let Some(f) = &skill.corrected_failure {
            let _ = writeln!(s, "                 (corrected run stopped: {f})");
        }
    }
    for w in &d.warnings {
        let _ = writeln!(s, "WARNING          {w}");
    }
    let t = &d.seconds;
    let _ = writeln!(
        s,
        "seconds          truth {:.2}, forecast {:.3}, assimilation {:.3}, regression {:.3}, skill {:.2}",
        t.truth, t.forecast, t.assimilation, t.regression, t.skill
    );
    s
}

/// Discovered and expected error of one component, term by term.
fn component_summary(s: &mut String, c: &ComponentDiscovery) {
    let _ = writeln!(
        s,
        "\ndiscovered  {}   (prune_alpha {:.0e})",
        c.equation, c.prune_alpha
    );
    if !c.fit.converged {
        let _ = writeln!(
            s,
            "            (the RVM did not converge in {} iterations)",
            c.fit.iterations
        );
    }
    if let Some(why) = &c.unsupported {
        let _ = writeln!(s, "            {why}");
    }
    let expected = Equation::from_pairs(&format!("{}_t error", c.name), &c.expected);
    if !c.expected.is_empty() {
        let _ = writeln!(s, "expected    {expected}");
    }
    if let Some(h) = c.stability.held_out {
        let _ = writeln!(
            s,
            "held-out    {:.2} % of the increment explained on unseen pairs (gain {})",
            100.0 * h.explained,
            crate::regression::resample::gain_text(h.gain_z)
        );
    }
    for d in &c.fit.dropped {
        let _ = writeln!(s, "dropped     `{}`: {}", d.name, d.reason);
    }
    if c.expected.is_empty() && c.fit.retained.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n  term           expected    discovered     ± std   inclusion   rel. error"
    );
    let mut names: Vec<&String> = c.expected.iter().map(|(t, _)| t).collect();
    for i in &c.fit.retained {
        if !names.contains(&&c.fit.names[*i]) {
            names.push(&c.fit.names[*i]);
        }
    }
    for name in names {
        let exp = c.expected.iter().find(|(t, _)| t == name).map(|(_, v)| *v);
        let found = c
            .fit
            .names
            .iter()
            .position(|n| n == name)
            .filter(|i| c.fit.retained.contains(i))
            .map(|i| (c.fit.coefficients[i], c.fit.std[i]));
        let rel = match (exp, found) {
            (Some(e), Some((v, _))) => format!("{:.3} %", 100.0 * (v - e).abs() / e.abs()),
            (Some(_), None) => "missed".into(),
            (None, Some(_)) if c.expected.is_empty() => String::new(),
            (None, Some(_)) => "spurious".into(),
            (None, None) => String::new(),
        };
        let inclusion = c
            .stability
            .inclusion
            .as_ref()
            .zip(c.fit.names.iter().position(|n| n == name))
            .filter(|_| found.is_some())
            .map(|(f, i)| format!("{:.0} %", 100.0 * f[i]))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<14} {:>10} {:>12} {:>9} {:>11}   {}",
            name,
            exp.map(|e| format!("{e:.4}")).unwrap_or("-".into()),
            found.map(|(v, _)| format!("{v:.5}")).unwrap_or("-".into()),
            found.map(|(_, sd)| format!("{sd:.1e}")).unwrap_or_default(),
            inclusion,
            rel
        );
    }
}

/// The threshold sweep (the L-curve): terms and normalised error per component.
fn sweep_summary(s: &mut String, d: &Discovery) {
    let _ = writeln!(
        s,
        "\nthreshold sweep (the L-curve): prune_alpha, then terms and normalised error per {}",
        if d.components.len() > 1 {
            "layer"
        } else {
            "field"
        }
    );
    let points = d.components[0].sweep.len();
    for i in 0..points {
        let _ = write!(s, "  {:>8.0e}", d.components[0].sweep[i].prune_alpha);
        for c in &d.components {
            let p = &c.sweep[i];
            let _ = write!(
                s,
                "   {}: {:>2} terms {:.3e}",
                c.name,
                p.terms(),
                p.fit.normalised_error
            );
        }
        let _ = writeln!(s);
    }
}
