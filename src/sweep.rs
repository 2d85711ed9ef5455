//! Threshold sweep: coefficients, number of terms, evidence and normalised error against
//! prune_alpha, for the model-selection (L-curve) plot of the QG paper.

use crate::error::Result;
use crate::normal_equations::NormalEquations;
use crate::rvm::{fit, RvmFit, RvmSettings};

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

/// The automatic choice of threshold: the model that survives over the widest range of
/// prune_alpha. Consecutive sweep points retaining the same (non-empty) set of terms form a
/// plateau; the longest plateau wins, ties going to the sparser (smaller-α) one; its middle
/// point is returned. None when every point retains nothing.
pub fn select_plateau(points: &[SweepPoint]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None; // (start, length)
    let mut start = 0;
    while start < points.len() {
        let mut end = start + 1;
        while end < points.len() && points[end].fit.retained == points[start].fit.retained {
            end += 1;
        }
        if !points[start].fit.retained.is_empty()
            && best.is_none_or(|(_, length)| end - start > length)
        {
            best = Some((start, end - start));
        }
        start = end;
    }
    best.map(|(start, length)| start + (length - 1) / 2)
}
