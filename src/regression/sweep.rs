//! Threshold sweep: coefficients, number of terms, evidence and normalised error against
//! prune_alpha, for the model-selection (L-curve) plot of the QG paper.

use crate::error::Result;
use crate::regression::normal_equations::NormalEquations;
use crate::regression::rvm::{fit, RvmFit, RvmSettings};

#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub prune_alpha: f64,
    pub fit: RvmFit,
}

impl SweepPoint {
    pub fn terms(&self) -> usize {
        self.fit.retained.len()
    }
}

/// Logarithmically spaced thresholds from `low` to `high`, `count` of them.
pub fn log_thresholds(low: f64, high: f64, count: usize) -> Vec<f64> {
    let (a, b) = (low.log10(), high.log10());
    (0..count)
        .map(|i| 10f64.powf(a + (b - a) * i as f64 / (count.max(2) - 1) as f64))
        .collect()
}

/// Fits once per threshold with otherwise identical settings.
pub fn threshold_sweep(
    stats: &NormalEquations,
    settings: &RvmSettings,
    thresholds: &[f64],
) -> Result<Vec<SweepPoint>> {
    thresholds
        .iter()
        .map(|&prune_alpha| {
            let settings = RvmSettings {
                prune_alpha,
                ..settings.clone()
            };
            Ok(SweepPoint {
                prune_alpha,
                fit: fit(stats, &settings)?,
            })
        })
        .collect()
}

/// The knee of the L-curve (normalised error e against number of terms): the sparsest model
/// that explains all but a fraction `tolerance` of what the best model of the sweep explains,
/// e ≤ e_min + tolerance·(1 − e_min), and whose residual is within [`KNEE_RATIO`] of the best
/// one (plus 1e-12 of round-off), e ≤ 10·e_min + 1e-12. The first test keeps noise-sized
/// terms out, the second keeps in a small exact term next to a large one (a 0.1 relaxation
/// next to a Jacobian explains under 1 % but removes all the residual). With noisy data the RVM keeps noise-sized terms
/// at every large threshold, so the widest plateau is the over-fitted one; the knee is where
/// dropping a term stops costing and adding one stops paying. Among sweep points with that
/// many terms, the middle one.
pub const KNEE_RATIO: f64 = 10.0;

/// A model must explain clearly more than chance: its F statistic
/// ((1 − e)/k) / (e/(N − k − 1)) at least this (k terms, N rows). Pure noise gives F ≈ 1
/// (a few, with rows that are not fully independent); a real term gives hundreds.
pub const MIN_F_STATISTIC: f64 = 10.0;

/// The F statistic of a sweep point's fit against the empty model.
pub fn f_statistic(point: &SweepPoint) -> f64 {
    let (e, k, n) = (
        point.fit.normalised_error,
        point.terms() as f64,
        point.fit.rows as f64,
    );
    if e <= 0.0 {
        return f64::INFINITY;
    }
    ((1.0 - e) / k) / (e / (n - k - 1.0).max(1.0))
}

pub fn select_knee(points: &[SweepPoint], tolerance: f64) -> Option<usize> {
    let fitted = || {
        points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.terms() > 0 && f_statistic(p) >= MIN_F_STATISTIC)
    };
    let best = fitted()
        .map(|(_, p)| p.fit.normalised_error)
        .fold(f64::INFINITY, f64::min);
    if !best.is_finite() {
        return None;
    }
    let bound = (best + tolerance * (1.0 - best)).min(KNEE_RATIO * best + 1e-12);
    let acceptable = || fitted().filter(|(_, p)| p.fit.normalised_error <= bound);
    let fewest = acceptable().map(|(_, p)| p.terms()).min()?;
    let chosen: Vec<usize> = acceptable()
        .filter(|(_, p)| p.terms() == fewest)
        .map(|(i, _)| i)
        .collect();
    Some(chosen[(chosen.len() - 1) / 2])
}

/// How the threshold of the RVM is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PruneAlpha {
    /// A fixed threshold on the precision of the standardised weights.
    Fixed(f64),
    /// The knee of the threshold sweep ([`select_knee`]).
    Auto,
}

/// Thresholds of the sweep behind every automatic choice and model-choice figure:
/// 10⁰ … 10¹⁰, two per decade.
pub const SWEEP: (f64, f64, usize) = (1.0, 1e10, 21);

/// The reported fit of a threshold choice and its threshold: a fixed threshold fitted anew,
/// or the knee of `sweep` (with `knee` its tolerance); when no model of the sweep explains
/// more than chance, its sparsest point (empty unless a term dominates even at α = 1).
pub fn choose_model(
    stats: &NormalEquations,
    settings: &RvmSettings,
    choice: PruneAlpha,
    knee: f64,
    sweep: &[SweepPoint],
) -> Result<(f64, RvmFit)> {
    match choice {
        PruneAlpha::Fixed(prune_alpha) => Ok((
            prune_alpha,
            fit(
                stats,
                &RvmSettings {
                    prune_alpha,
                    ..settings.clone()
                },
            )?,
        )),
        PruneAlpha::Auto => {
            let i = select_knee(sweep, knee).unwrap_or_else(|| {
                (0..sweep.len())
                    .min_by_key(|&i| sweep[i].terms())
                    .expect("a non-empty sweep")
            });
            Ok((sweep[i].prune_alpha, sweep[i].fit.clone()))
        }
    }
}
