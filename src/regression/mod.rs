//! The regression on any matrix: accumulated normal equations, the relevance vector machine,
//! the threshold sweep that chooses a model, resampling of blocks of rows (inclusion
//! frequencies, held-out scores), and the discovered equation.

pub mod equation;
pub mod normal_equations;
pub mod resample;
pub mod rvm;
pub mod sweep;

use crate::error::{MedidaError, Result};
use resample::Blocks;
use rvm::{RvmMethod, RvmSettings};
use sweep::{select, PruneAlpha, Selection};

/// The regression alone on a user's matrix (`medida fit`, `medida.fit` in Python): checks that
/// `x`, `y` and `labels` agree, then chooses and fits the model on row blocks of `block`
/// rows (1: every row its own block). `source` names the data in errors.
pub fn fit_matrix(
    source: &str,
    labels: Vec<String>,
    x: ndarray::ArrayView2<f64>,
    y: ndarray::ArrayView1<f64>,
    method: RvmMethod,
    choice: PruneAlpha,
    seed: u64,
) -> Result<MatrixFit> {
    if x.nrows() != y.len() {
        return Err(MedidaError::Data(format!(
            "{source}: X has {} rows but y has {} values; they must match row for row",
            x.nrows(),
            y.len()
        )));
    }
    for (i, name) in labels.iter().enumerate() {
        if labels[..i].contains(name) {
            return Err(MedidaError::Data(format!(
                "{source}: label `{name}` names two columns; every column needs its own term"
            )));
        }
    }
    if labels.len() != x.ncols() {
        return Err(MedidaError::Data(format!(
            "{source}: {} labels for {} columns of X",
            labels.len(),
            x.ncols()
        )));
    }
    let blocks = Blocks::of_rows(labels, x, y, 1)?;
    let settings = RvmSettings {
        method,
        ..RvmSettings::default()
    };
    let selection = select(
        &blocks,
        &settings,
        choice,
        crate::case::Regression::default().knee,
        seed,
    )?;
    Ok(MatrixFit {
        selection,
        automatic: choice == PruneAlpha::Auto,
        blocks: blocks.len(),
    })
}

/// What [`fit_matrix`] found.
pub struct MatrixFit {
    pub selection: Selection,
    /// The threshold was chosen automatically.
    pub automatic: bool,
    /// Row blocks behind the inclusion frequencies and the held-out score.
    pub blocks: usize,
}

impl MatrixFit {
    /// The text `medida fit` prints: the equation (or why there is none), the term table, the
    /// fit's numbers, the held-out score and what was dropped.
    pub fn summary(&self, lhs: &str) -> String {
        use std::fmt::Write;
        let selection = &self.selection;
        let stability = &selection.stability;
        let result = &selection.fit;
        let mut out = String::new();
        match &selection.unsupported {
            Some(why) => writeln!(out, "{why}"),
            None => writeln!(out, "{}", equation::Equation::from_fit(lhs, result)),
        }
        .expect("write to a string");
        if !result.retained.is_empty() {
            out.push_str("\n  term           coefficient      ± std   inclusion\n");
            for &i in &result.retained {
                let _ = writeln!(
                    out,
                    "  {:<14} {:>11.5} {:>10.1e}   {}",
                    result.names[i],
                    result.coefficients[i],
                    result.std[i],
                    stability
                        .inclusion
                        .as_ref()
                        .map_or("-".into(), |f| format!("{:.0} %", 100.0 * f[i]))
                );
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} rows, {} columns, {} retained (prune_alpha {:.0e}{}); noise std {:.3e}; {} after {} iterations",
            result.rows,
            result.names.len(),
            result.retained.len(),
            selection.prune_alpha,
            if self.automatic { ", automatic" } else { "" },
            result.noise_std(),
            if result.converged {
                "converged"
            } else {
                "NOT converged"
            },
            result.iterations
        );
        if let Some(h) = stability.held_out {
            let _ = writeln!(
                out,
                "held-out: {:.2} % of the target explained on unseen row blocks, gain {} ({}-fold over {} blocks); inclusion over {} bootstrap resamples of the blocks",
                100.0 * h.explained,
                resample::gain_text(h.gain_z),
                resample::FOLDS.min(self.blocks),
                self.blocks,
                resample::RESAMPLES
            );
        }
        for d in &result.dropped {
            let _ = writeln!(out, "dropped `{}`: {}", d.name, d.reason);
        }
        out
    }

    /// The JSON report of `medida fit --json`.
    pub fn report(&self, name: &str) -> crate::output::report::Report {
        crate::output::report::Report::from_fit(
            name,
            &self.selection.fit,
            self.selection.prune_alpha,
            &self.selection.stability,
            self.selection.unsupported.as_ref(),
        )
    }
}

/// `"auto"` or a positive number: the threshold as `medida fit --prune-alpha` and
/// `regression.prune_alpha` take it.
pub fn parse_prune_alpha(text: &str) -> Result<PruneAlpha> {
    match text {
        "auto" => Ok(PruneAlpha::Auto),
        number => match number.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(PruneAlpha::Fixed(v)),
            _ => Err(MedidaError::Config(format!(
                "prune_alpha `{number}`: expected \"auto\" or a positive number"
            ))),
        },
    }
}
