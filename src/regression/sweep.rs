//! Threshold sweep: coefficients, number of terms, evidence and normalised error against
//! prune_alpha, for the model-selection (L-curve) plot of the QG paper.

use crate::error::Result;
use crate::regression::normal_equations::NormalEquations;
use crate::regression::resample::{stability, Blocks, HeldOut, Stability, MIN_GAIN_Z};
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

    /// Names of the retained terms.
    pub fn names(&self) -> Vec<String> {
        self.fit
            .retained
            .iter()
            .map(|&i| self.fit.names[i].clone())
            .collect()
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

/// The outcome of a threshold choice: the threshold, its fit, the sweep behind it, and how
/// stable the choice is on resampled and held-out blocks.
#[derive(Clone, Debug)]
pub struct Selection {
    pub prune_alpha: f64,
    pub fit: RvmFit,
    pub sweep: Vec<SweepPoint>,
    pub stability: Stability,
    /// Automatic choice only: the data support no term, so the empty model is reported.
    pub unsupported: Option<Unsupported>,
}

/// Why the data support no term: the model the sweep would have chosen, or its best one.
#[derive(Clone, Debug)]
pub struct Unsupported {
    pub best_terms: Vec<String>,
    pub explained: f64,
    pub f_statistic: f64,
    /// Set when the model explained more than chance but failed on held-out blocks.
    pub held_out: Option<HeldOut>,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no term is supported by the data: ")?;
        if self.best_terms.is_empty() {
            return write!(f, "every threshold of the sweep prunes every term");
        }
        let terms = self.best_terms.join(", ");
        let explained = 100.0 * self.explained;
        match self.held_out {
            Some(h) => write!(
                f,
                "the sweep's choice ({terms}) explains {explained:.2} % of the target but does not predict held-out data: {:.2} % explained there, a gain of {:.1} standard errors (at least {MIN_GAIN_Z} needed)",
                100.0 * h.explained,
                h.gain_z.unwrap_or(f64::NAN)
            ),
            None => write!(
                f,
                "the best model of the threshold sweep ({terms}) explains {explained:.2} % of the target, F = {:.2} (chance gives about 1; at least {MIN_F_STATISTIC} is needed)",
                self.f_statistic
            ),
        }
    }
}

/// The sweep over [`SWEEP`] and the threshold choice on the blocks' total: a fixed
/// threshold fitted anew, or the knee of the sweep (with `knee` its tolerance). The
/// automatic choice is the empty model when no model of the sweep explains more than chance
/// (F below [`MIN_F_STATISTIC`]) or when the knee's model does not predict held-out blocks
/// ([`HeldOut::supports`]); `unsupported` then says why. `seed` drives the bootstrap.
pub fn select(
    blocks: &Blocks,
    settings: &RvmSettings,
    choice: PruneAlpha,
    knee: f64,
    seed: u64,
) -> Result<Selection> {
    let stats = blocks.total();
    let (low, high, count) = SWEEP;
    let sweep = threshold_sweep(&stats, settings, &log_thresholds(low, high, count))?;
    let (prune_alpha, fit) = match choice {
        PruneAlpha::Fixed(prune_alpha) => (
            prune_alpha,
            fit(
                &stats,
                &RvmSettings {
                    prune_alpha,
                    ..settings.clone()
                },
            )?,
        ),
        PruneAlpha::Auto => match select_knee(&sweep, knee) {
            Some(i) => (sweep[i].prune_alpha, sweep[i].fit.clone()),
            None => {
                // The most explaining fit of the sweep is the evidence against every term.
                let best = sweep
                    .iter()
                    .filter(|p| p.terms() > 0)
                    .min_by(|a, b| a.fit.normalised_error.total_cmp(&b.fit.normalised_error));
                let unsupported = Unsupported {
                    best_terms: best.map_or(Vec::new(), |p| p.names()),
                    explained: best.map_or(0.0, |p| 1.0 - p.fit.normalised_error),
                    f_statistic: best.map_or(0.0, f_statistic),
                    held_out: None,
                };
                return Ok(Selection {
                    prune_alpha: sweep[0].prune_alpha,
                    fit: sweep[0].fit.without_terms(),
                    sweep,
                    stability: Stability::default(),
                    unsupported: Some(unsupported),
                });
            }
        },
    };
    let stability = stability(blocks, settings, prune_alpha, seed)?;
    let failed = stability.held_out.filter(|h| !h.supports());
    if let (PruneAlpha::Auto, Some(held_out)) = (choice, failed) {
        let point = SweepPoint { prune_alpha, fit };
        return Ok(Selection {
            prune_alpha,
            unsupported: Some(Unsupported {
                best_terms: point.names(),
                explained: 1.0 - point.fit.normalised_error,
                f_statistic: f_statistic(&point),
                held_out: Some(held_out),
            }),
            fit: point.fit.without_terms(),
            sweep,
            stability,
        });
    }
    Ok(Selection {
        prune_alpha,
        fit,
        sweep,
        stability,
        unsupported: None,
    })
}
