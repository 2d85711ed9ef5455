//! The JSON report of interfaces.md and the printed summary.

use crate::error::{MedidaError, Result};
use crate::pipeline::Discovery;
use crate::rvm::RvmFit;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Serialize)]
pub struct TermReport {
    pub term: String,
    pub coefficient: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
}

#[derive(Serialize)]
pub struct Seconds {
    pub truth: f64,
    pub forecast: f64,
    pub assimilation: f64,
    pub regression: f64,
}

#[derive(Serialize)]
pub struct Report {
    pub name: String,
    pub discovered: Vec<TermReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Vec<TermReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_model: Option<Vec<TermReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
    pub rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<Seconds>,
    pub converged: bool,
    pub iterations: usize,
    pub noise_std: f64,
    pub log_evidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_modes: Option<usize>,
}

pub fn discovered_terms(fit: &RvmFit) -> Vec<TermReport> {
    fit.terms()
        .into_iter()
        .map(|(term, coefficient, std)| TermReport {
            term,
            coefficient,
            std: Some(std),
        })
        .collect()
}

fn plain(pairs: &[(String, f64)]) -> Vec<TermReport> {
    pairs
        .iter()
        .map(|(term, coefficient)| TermReport {
            term: term.clone(),
            coefficient: *coefficient,
            std: None,
        })
        .collect()
}

impl Report {
    pub fn from_fit(name: &str, fit: &RvmFit) -> Self {
        Report {
            name: name.to_string(),
            discovered: discovered_terms(fit),
            expected: None,
            corrected_model: None,
            pairs: None,
            rows: fit.rows,
            seconds: None,
            converged: fit.converged,
            iterations: fit.iterations,
            noise_std: fit.noise_std(),
            log_evidence: fit.log_evidence.is_finite().then_some(fit.log_evidence),
            projection_modes: None,
        }
    }

    pub fn from_discovery(d: &Discovery) -> Self {
        let mut report = Report::from_fit(&d.name, &d.fit);
        report.expected = Some(plain(&d.expected));
        report.corrected_model = Some(plain(&d.corrected));
        report.pairs = Some(d.pairs);
        report.rows = d.rows;
        report.projection_modes = d.projection_modes;
        report.seconds = Some(Seconds {
            truth: d.seconds.truth,
            forecast: d.seconds.forecast,
            assimilation: d.seconds.assimilation,
            regression: d.seconds.regression,
        });
        report
    }

    /// Writes the JSON atomically: a failed run never leaves a partial file behind.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| MedidaError::io(path, e))?;
        let temporary = path.with_extension("json.partial");
        std::fs::write(&temporary, text + "\n").map_err(|e| MedidaError::io(&temporary, e))?;
        std::fs::rename(&temporary, path).map_err(|e| MedidaError::io(path, e))
    }
}

/// The human summary of a run.
pub fn summary(d: &Discovery) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "case {}: {} pairs, {} rows, assimilation: {}{}",
        d.name,
        d.pairs,
        d.rows,
        d.assimilation,
        d.projection_modes
            .map(|m| format!(", regression on Fourier modes 1..={m}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "\ndiscovered  {}", d.equation);
    if !d.fit.converged {
        let _ = writeln!(
            s,
            "            (the RVM did not converge in {} iterations)",
            d.fit.iterations
        );
    }
    let expected = crate::equation::Equation::from_pairs("u_t error", &d.expected);
    let _ = writeln!(s, "expected    {expected}");
    let _ = writeln!(
        s,
        "\n  term           expected    discovered     ± std       rel. error"
    );
    let mut names: Vec<&String> = d.expected.iter().map(|(t, _)| t).collect();
    for i in &d.fit.retained {
        if !names.contains(&&d.fit.names[*i]) {
            names.push(&d.fit.names[*i]);
        }
    }
    for name in names {
        let exp = d.expected.iter().find(|(t, _)| t == name).map(|(_, c)| *c);
        let idx = d.fit.names.iter().position(|n| n == name);
        let found = idx
            .filter(|i| d.fit.retained.contains(i))
            .map(|i| (d.fit.coefficients[i], d.fit.std[i]));
        let rel = match (exp, found) {
            (Some(e), Some((c, _))) => format!("{:.3} %", 100.0 * (c - e).abs() / e.abs()),
            (Some(_), None) => "missed".into(),
            (None, Some(_)) => "spurious".into(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "  {:<14} {:>10} {:>12} {:>11}   {}",
            name,
            exp.map(|e| format!("{e:.4}")).unwrap_or("-".into()),
            found.map(|(c, _)| format!("{c:.5}")).unwrap_or("-".into()),
            found.map(|(_, sd)| format!("{sd:.1e}")).unwrap_or_default(),
            rel
        );
    }
    let corrected = crate::equation::Equation::from_pairs("u_t", &d.corrected);
    let _ = writeln!(s, "\ncorrected model  {corrected}");
    if let Some(skill) = &d.skill {
        let fmt = |t: Option<f64>| {
            t.map(|t| format!("{t:.1}"))
                .unwrap_or(format!("> {:.0}", crate::pipeline::SKILL_HORIZON))
        };
        let _ = writeln!(
            s,
            "forecast skill   time until the relative error reaches 0.5: imperfect {}, corrected {}",
            fmt(skill.imperfect_time_to_half),
            fmt(skill.corrected_time_to_half)
        );
        if let Some(f) = &skill.corrected_failure {
            let _ = writeln!(s, "                 (corrected run stopped: {f})");
        }
    }
    let t = &d.seconds;
    let _ = writeln!(
        s,
        "seconds          truth {:.2}, forecast {:.3}, assimilation {:.3}, regression {:.3}",
        t.truth, t.forecast, t.assimilation, t.regression
    );
    s
}
