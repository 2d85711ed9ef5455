//! Resampling on sufficient statistics: the normal equations of independent blocks of rows
//! (the pairs of a run, contiguous row blocks of a user's matrix) summed with weights, so
//! that a bootstrap or a cross-validation refits without a single forecast or library
//! evaluation.
//!
//! - Inclusion frequency (ensemble SINDy's stability measure): the fraction of fits on
//!   bootstrap resamples of the blocks, at the chosen threshold, that keep each term.
//! - Held-out score: k-fold over the blocks, the fraction of the held-out target's variance
//!   explained by the fit on the other folds.

use crate::error::Result;
use crate::random::{stream, Purpose};
use crate::regression::normal_equations::NormalEquations;
use crate::regression::rvm::{fit, RvmFit, RvmSettings};
use rand::Rng;
use rayon::prelude::*;

/// Bootstrap resamples behind an inclusion frequency (its standard error is at most 5 %).
pub const RESAMPLES: usize = 100;

/// Most blocks kept per regression; consecutive pairs are merged beyond this, so that the
/// memory of a run does not grow with its pairs.
pub const MAX_BLOCKS: usize = 100;

/// Folds of the held-out score.
pub const FOLDS: usize = 5;

/// The normal equations of a regression split into blocks of rows that are resampled whole.
#[derive(Clone, Debug)]
pub struct Blocks {
    names: Vec<String>,
    pub blocks: Vec<NormalEquations>,
}

impl Blocks {
    pub fn new(names: Vec<String>) -> Self {
        Blocks {
            names,
            blocks: Vec::new(),
        }
    }

    /// Adds the statistics of item `index` of `count` (e.g. pair k of a run): items share a
    /// block when there are more than [`MAX_BLOCKS`], consecutive ones together.
    pub fn add(&mut self, index: usize, count: usize, stats: &NormalEquations) -> Result<()> {
        let block = index * MAX_BLOCKS.min(count) / count.max(1);
        while self.blocks.len() <= block {
            self.blocks.push(NormalEquations::new(self.names.clone()));
        }
        self.blocks[block].merge(stats)
    }

    /// Splits rows into up to [`MAX_BLOCKS`] contiguous blocks of at least `min_rows` rows.
    pub fn of_rows(
        names: Vec<String>,
        columns: ndarray::ArrayView2<f64>,
        target: ndarray::ArrayView1<f64>,
        min_rows: usize,
    ) -> Result<Self> {
        let rows = target.len();
        if columns.nrows() != rows {
            return Err(crate::error::MedidaError::Data(format!(
                "the columns have {} rows but the target has {rows} values",
                columns.nrows()
            )));
        }
        let count = (rows / min_rows.max(1)).clamp(1, MAX_BLOCKS);
        let mut blocks = Blocks::new(names.clone());
        for b in 0..count {
            let (start, end) = (b * rows / count, (b + 1) * rows / count);
            let mut stats = NormalEquations::new(names.clone());
            stats.add(
                columns.slice(ndarray::s![start..end, ..]),
                target.slice(ndarray::s![start..end]),
            )?;
            blocks.blocks.push(stats);
        }
        Ok(blocks)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Σ weight_b · block_b (weights are counts: a bootstrap draw, or 0/1 for a fold).
    pub fn weighted(&self, weights: &[usize]) -> NormalEquations {
        let mut total = NormalEquations::new(self.names.clone());
        for (block, &w) in self.blocks.iter().zip(weights) {
            if w > 0 {
                total.merge_scaled(block, w);
            }
        }
        total
    }

    /// Every block once.
    pub fn total(&self) -> NormalEquations {
        self.weighted(&vec![1; self.len()])
    }
}

/// Per column, the fraction of bootstrap resamples of the blocks whose fit at
/// `settings.prune_alpha` keeps it; None with fewer than two blocks. Resample r draws from
/// its own stream, so the result is the same on any thread count.
pub fn inclusion(blocks: &Blocks, settings: &RvmSettings, seed: u64) -> Option<Vec<f64>> {
    let count = blocks.len();
    if count < 2 {
        return None;
    }
    let columns = blocks.names.len();
    let kept: Vec<Vec<usize>> = (0..RESAMPLES)
        .into_par_iter()
        .map(|r| {
            let mut rng = stream(seed, r as u64, 0, Purpose::Bootstrap);
            let mut weights = vec![0; count];
            for _ in 0..count {
                weights[rng.gen_range(0..count)] += 1;
            }
            // A resample the RVM cannot fit (e.g. too few distinct rows) keeps nothing.
            fit(&blocks.weighted(&weights), settings).map_or(Vec::new(), |f| f.retained)
        })
        .collect();
    let mut frequency = vec![0.0; columns];
    for retained in &kept {
        for &i in retained {
            frequency[i] += 1.0 / RESAMPLES as f64;
        }
    }
    Some(frequency)
}

/// ‖y − ŷ‖² of a fit (intercept included) on other statistics, from their sums alone.
pub fn residual_square(fit: &RvmFit, stats: &NormalEquations) -> f64 {
    let n = stats.rows as f64;
    let w = &fit.coefficients;
    let b = fit.intercept;
    let mut gram_w = 0.0;
    let mut proj_w = 0.0;
    let mut sum_w = 0.0;
    for &i in &fit.retained {
        proj_w += w[i] * stats.projection[i];
        sum_w += w[i] * stats.column_sums[i];
        for &j in &fit.retained {
            gram_w += w[i] * w[j] * stats.gram[[i, j]];
        }
    }
    (stats.target_square - 2.0 * proj_w + gram_w - 2.0 * b * stats.target_sum
        + 2.0 * b * sum_w
        + n * b * b)
        .max(0.0)
}

/// How a model chosen on some blocks predicts the others.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeldOut {
    /// Over [`FOLDS`] folds of the blocks (block b in fold b mod FOLDS), the fits made at the
    /// chosen threshold on the other folds: 1 − Σ‖y − ŷ‖² / Σ‖y − ȳ_train‖². 1 predicts
    /// unseen blocks perfectly, 0 no better than their mean, below 0 worse (over-fitting).
    pub explained: f64,
    /// The test of the prediction over the blocks: the mean of the blocks' own explained
    /// fractions 1 − ‖y − ŷ‖²/‖y − ȳ‖² over its standard error (None with fewer than three
    /// blocks).
    pub gain_z: Option<f64>,
}

/// A model is supported by held-out data when the blocks' explained fractions are positive
/// on average by at least this many standard errors (blocks are the independent units: the
/// pairs of a run).
pub const MIN_GAIN_Z: f64 = 3.0;

impl HeldOut {
    /// Whether the held-out blocks support the model (true when the test cannot be made).
    pub fn supports(&self) -> bool {
        self.gain_z.is_none_or(|z| z >= MIN_GAIN_Z)
    }
}

/// The test statistic in words: "12.3 standard errors", or "the same on every block".
pub fn gain_text(z: Option<f64>) -> String {
    match z {
        None => "untested: fewer than 3 blocks".into(),
        Some(z) if z.is_infinite() => "the same on every block".into(),
        Some(z) if z > 1e3 => "over 1000 standard errors".into(),
        Some(z) => format!("{z:.1} standard errors"),
    }
}

/// The held-out score and test of the model at `settings.prune_alpha`; None with fewer
/// than two blocks.
pub fn held_out(blocks: &Blocks, settings: &RvmSettings) -> Result<Option<HeldOut>> {
    let count = blocks.len();
    if count < 2 {
        return Ok(None);
    }
    let folds = FOLDS.min(count);
    let per_fold: Vec<Result<Vec<(f64, f64)>>> = (0..folds)
        .into_par_iter()
        .map(|fold| {
            let train: Vec<usize> = (0..count).map(|b| usize::from(b % folds != fold)).collect();
            let training = fit(&blocks.weighted(&train), settings)?;
            let empty = training.without_terms();
            Ok((fold..count)
                .step_by(folds)
                .map(|b| {
                    let held = &blocks.blocks[b];
                    (
                        residual_square(&training, held),
                        residual_square(&empty, held),
                    )
                })
                .collect())
        })
        .collect();
    let mut pairs = Vec::with_capacity(count);
    for fold in per_fold {
        pairs.extend(fold?);
    }
    let residual: f64 = pairs.iter().map(|p| p.0).sum();
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let explained = if total > 0.0 {
        1.0 - residual / total
    } else if residual <= 0.0 {
        1.0
    } else {
        f64::NEG_INFINITY
    };
    // Each block's own explained fraction, so that a block of large amplitude does not
    // outweigh the others (the gains are then comparable across blocks).
    let gains: Vec<f64> = pairs
        .iter()
        .filter(|(_, t)| *t > 0.0)
        .map(|(r, t)| 1.0 - r / t)
        .collect();
    let gain_z = (gains.len() >= 3).then(|| {
        let m = gains.len() as f64;
        let mean = gains.iter().sum::<f64>() / m;
        let variance = gains.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (m - 1.0);
        let error = (variance / m).sqrt();
        if error > 0.0 {
            mean / error
        } else if mean > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    });
    Ok(Some(HeldOut { explained, gain_z }))
}

/// How far the chosen model can be trusted beyond the data that chose it.
#[derive(Clone, Debug, Default)]
pub struct Stability {
    /// Per column: the inclusion frequency over bootstrap resamples of the blocks.
    pub inclusion: Option<Vec<f64>>,
    /// The k-fold held-out score and test ([`held_out`]).
    pub held_out: Option<HeldOut>,
}

/// Inclusion frequencies and the held-out score of the model chosen at `prune_alpha`.
pub fn stability(
    blocks: &Blocks,
    settings: &RvmSettings,
    prune_alpha: f64,
    seed: u64,
) -> Result<Stability> {
    let settings = RvmSettings {
        prune_alpha,
        ..settings.clone()
    };
    Ok(Stability {
        inclusion: inclusion(blocks, &settings, seed),
        held_out: held_out(blocks, &settings)?,
    })
}
