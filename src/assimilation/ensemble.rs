//! Ensembles as state × members matrices (one contiguous column per member), their parallel
//! forecast, and the random streams that make every member's numbers depend only on
//! (seed, cycle, member) — never on the thread that happens to run it.

use super::observation::Observation;
use crate::error::{MedidaError, Result};
pub use crate::random::{standard_normals, stream, Purpose};
use crate::solvers::Model;
use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// An ensemble around `center` with independent N(0, spread²) perturbations per entry.
pub fn initial_ensemble(center: &[f64], spread: f64, members: usize, seed: u64) -> DMatrix<f64> {
    let mut ensemble = DMatrix::zeros(center.len(), members);
    for (member, mut column) in ensemble.column_iter_mut().enumerate() {
        let mut rng = stream(seed, 0, member as u64, Purpose::InitialSpread);
        for (x, c) in column.iter_mut().zip(center) {
            let z: f64 = StandardNormal.sample(&mut rng);
            *x = c + spread * z;
        }
    }
    ensemble
}

/// Fewest members per parallel task of the element-wise passes over an ensemble, so that a
/// 100-member ensemble is a few tasks rather than a hundred.
pub(crate) const MEMBERS_PER_TASK: usize = 16;

/// Columns summed per parallel task of [`mean`]: fixed, so the sum's order (and its bits)
/// never depends on the thread count.
const MEAN_BLOCK: usize = 64;

/// Ensemble mean (mean of the columns): blocks of columns summed in parallel, the block sums
/// added in order.
pub fn mean(ensemble: &DMatrix<f64>) -> DVector<f64> {
    let (n, m) = ensemble.shape();
    if n == 0 || m == 0 {
        return DVector::zeros(n);
    }
    let partial: Vec<Vec<f64>> = ensemble
        .as_slice()
        .par_chunks(MEAN_BLOCK * n)
        .map(|block| {
            let mut sum = vec![0.0; n];
            for column in block.chunks_exact(n) {
                for (s, x) in sum.iter_mut().zip(column) {
                    *s += x;
                }
            }
            sum
        })
        .collect();
    let mut sum = vec![0.0; n];
    for block in &partial {
        for (s, x) in sum.iter_mut().zip(block) {
            *s += x;
        }
    }
    let scale = 1.0 / m as f64;
    DVector::from_iterator(n, sum.into_iter().map(|s| s * scale))
}

/// Anomalies: every member minus the mean.
pub fn anomalies(ensemble: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut a = ensemble.clone();
    let n = a.nrows();
    if n > 0 {
        a.as_mut_slice()
            .par_chunks_mut(n)
            .with_min_len(MEMBERS_PER_TASK)
            .for_each(|column| {
                for (x, m) in column.iter_mut().zip(mean.iter()) {
                    *x -= m;
                }
            });
    }
    a
}

/// Advances every member by one observation interval, members in parallel. Each member's
/// result depends only on its own state, so the bits do not depend on the thread count.
pub fn forecast<M: Model>(model: &M, ensemble: &mut DMatrix<f64>) -> Result<()> {
    let size = model.state_size();
    if ensemble.nrows() != size {
        return Err(MedidaError::Assimilation(format!(
            "ensemble states have {} entries but the model's state has {size}",
            ensemble.nrows()
        )));
    }
    ensemble
        .as_mut_slice()
        .par_chunks_mut(size)
        .enumerate()
        .try_for_each_init(
            || model.workspace(),
            |workspace, (member, state)| {
                model.advance(state, workspace).map_err(|e| {
                    MedidaError::Assimilation(format!("forecast of member {member}: {e}"))
                })
            },
        )
}

/// Root-mean-square difference between a state and a reference.
pub fn rms_difference(state: &[f64], reference: &[f64]) -> f64 {
    let sum: f64 = state
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    (sum / state.len() as f64).sqrt()
}

/// Root of the mean ensemble variance (the spread a filter believes in).
pub fn spread(ensemble: &DMatrix<f64>) -> f64 {
    let m = ensemble.ncols() as f64;
    let mean = mean(ensemble);
    let a = anomalies(ensemble, &mean);
    (a.norm_squared() / (m - 1.0) / ensemble.nrows() as f64).sqrt()
}

/// What every analysis scheme starts from: forecast mean and anomalies, observation-space
/// anomalies and innovation, both scaled by R^{-1/2} so that R becomes the identity.
pub(crate) struct Prepared {
    pub mean: DVector<f64>,
    /// A = E − x̄ (state × members).
    pub anomalies: DMatrix<f64>,
    /// S = R^{-1/2} (H E − ȳ) (observations × members).
    pub scaled_observed: DMatrix<f64>,
    /// s = R^{-1/2} (y − ȳ).
    pub scaled_innovation: DVector<f64>,
    /// R^{-1/2} diagonal.
    pub inverse_std: DVector<f64>,
}

/// Checks the inputs of an analysis — at least two members, matching sizes, valid observed
/// values and a finite forecast — and returns the forecast mean. Finiteness is read off the
/// mean (any infinite or NaN entry makes its row's sum non-finite), so the ensemble is read
/// once; only when the mean is not finite are the members searched for the entry to name.
pub(crate) fn validated_mean(
    ensemble: &DMatrix<f64>,
    observation: &Observation,
    values: &[f64],
) -> Result<DVector<f64>> {
    let members = ensemble.ncols();
    if members < 2 {
        return Err(MedidaError::Assimilation(format!(
            "an ensemble filter needs at least 2 members (got {members})"
        )));
    }
    if ensemble.nrows() != observation.state_size() {
        return Err(MedidaError::Assimilation(format!(
            "ensemble states have {} entries but the observation describes {}",
            ensemble.nrows(),
            observation.state_size()
        )));
    }
    observation.check(values)?;
    let mean = mean(ensemble);
    if mean.iter().all(|x| x.is_finite()) {
        return Ok(mean);
    }
    let n = ensemble.nrows();
    match ensemble
        .as_slice()
        .par_chunks(n.max(1))
        .position_first(|member| member.iter().any(|v| !v.is_finite()))
    {
        Some(j) => {
            let column = &ensemble.as_slice()[j * n..(j + 1) * n];
            let k = column.iter().position(|v| !v.is_finite()).unwrap_or(0);
            Err(MedidaError::Assimilation(format!(
                "forecast member {j} is not finite at entry {k}"
            )))
        }
        None => Err(MedidaError::Assimilation(
            "the forecast ensemble's mean overflows (entries near the largest f64)".into(),
        )),
    }
}

/// Validates the inputs of an analysis and computes [`Prepared`].
pub(crate) fn prepare(
    ensemble: &DMatrix<f64>,
    observation: &Observation,
    values: &[f64],
) -> Result<Prepared> {
    let mean = validated_mean(ensemble, observation, values)?;
    let anomalies = anomalies(ensemble, &mean);
    let p = observation.len();
    let indices = observation.indices();
    let inverse_std =
        DVector::from_iterator(p, observation.variance().iter().map(|v| v.sqrt().recip()));
    let scaled_observed = scaled_anomalies(ensemble, &mean, indices, inverse_std.as_slice());
    let scaled_innovation =
        DVector::from_fn(p, |k, _| (values[k] - mean[indices[k]]) * inverse_std[k]);
    Ok(Prepared {
        mean,
        anomalies,
        scaled_observed,
        scaled_innovation,
        inverse_std,
    })
}

/// The scaled observation anomalies S = R^{-1/2} (H E − H x̄), columns in parallel.
pub(crate) fn scaled_anomalies(
    ensemble: &DMatrix<f64>,
    mean: &DVector<f64>,
    indices: &[usize],
    inverse_std: &[f64],
) -> DMatrix<f64> {
    let mut s = DMatrix::zeros(0, 0);
    scaled_block(
        ensemble,
        0..ensemble.ncols(),
        mean,
        indices,
        inverse_std,
        &mut s,
    );
    s
}

/// The columns `members` of the scaled observation anomalies, into `s` (reshaped only when
/// its shape differs, so one buffer serves block after block).
pub(crate) fn scaled_block(
    ensemble: &DMatrix<f64>,
    members: std::ops::Range<usize>,
    mean: &DVector<f64>,
    indices: &[usize],
    inverse_std: &[f64],
    s: &mut DMatrix<f64>,
) {
    let n = ensemble.nrows();
    let p = indices.len();
    if s.shape() != (p, members.len()) {
        *s = DMatrix::zeros(p, members.len());
    }
    if p == 0 || n == 0 {
        return;
    }
    // Observed entries that form one contiguous run (full observations, a sub-domain) are read
    // as slices, which vectorise; any other set is gathered.
    let run = indices
        .first()
        .filter(|&&first| indices.iter().enumerate().all(|(k, &i)| i == first + k));
    s.as_mut_slice()
        .par_chunks_mut(p)
        .zip(ensemble.as_slice()[members.start * n..members.end * n].par_chunks(n))
        .with_min_len(MEMBERS_PER_TASK)
        .for_each(|(column, member)| match run {
            Some(&first) => {
                let observed = &member[first..first + p];
                let mean = &mean.as_slice()[first..first + p];
                for (((x, v), mu), w) in column.iter_mut().zip(observed).zip(mean).zip(inverse_std)
                {
                    *x = (v - mu) * w;
                }
            }
            None => {
                for ((x, &i), w) in column.iter_mut().zip(indices).zip(inverse_std) {
                    *x = (member[i] - mean[i]) * w;
                }
            }
        });
}

/// Which space an analysis works in; never the N × N state space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Space {
    /// The cheaper of the two for the sizes at hand.
    #[default]
    Auto,
    /// members × members matrices (few members).
    Ensemble,
    /// observations × observations matrices (members ≫ observations).
    Observation,
}

impl Space {
    /// Resolves `Auto` by multiply-add counts of the stochastic EnKF with perturbations drawn
    /// per observation: ensemble space SᵀS (pm²/2), SᵀΔ (pm²), factor and solve (4m³/3), AW
    /// (Nm²) — drawing their image instead swaps the pm² for ≈ 2m³/3, which moves the
    /// crossover little (≈ 700 members at N = p = 1024 either way); observation space SSᵀ
    /// (p²m/2), factor (p³/3), solve (p²m) and the rows nobody observes (≤ 2(N − p)pm).
    pub fn resolve(self, state: usize, observations: usize, members: usize) -> Space {
        match self {
            Space::Auto => {
                let (n, p, m) = (state as f64, observations as f64, members as f64);
                let ensemble = 1.5 * p * m * m + 4.0 * m * m * m / 3.0 + n * m * m;
                let unobserved = (n - p).max(0.0);
                let observation = 1.5 * p * p * m
                    + p * p * p / 3.0
                    + (2.0 * unobserved * p * m).min(p * m * m + unobserved * m * m);
                if ensemble <= observation {
                    Space::Ensemble
                } else {
                    Space::Observation
                }
            }
            fixed => fixed,
        }
    }

    /// Resolves `Auto` for the ETKF's transform, whose counts differ: ensemble space SᵀS
    /// (pm²/2), the eigen-decomposition of an m × m matrix (≈ 10m³ in product time: faer's,
    /// single-threaded, took 260 ms at 1,000 against ≈ 25 ms for a 1,000³ product on two
    /// cores), the transform (m³) and A T (Nm²); observation space ASᵀ (Npm), the p × p
    /// decomposition (≈ 10p³), the core (p³) and two products with A's size (Np² + Npm). At
    /// N = p = 1,024 and 1,000 members that is 12.5e9 against 15.0e9: ensemble space (measured
    /// 570–700 against 750–780 ms).
    pub fn resolve_transform(self, state: usize, observations: usize, members: usize) -> Space {
        match self {
            Space::Auto => {
                let (n, p, m) = (state as f64, observations as f64, members as f64);
                let ensemble = 0.5 * p * m * m + 11.0 * m * m * m + n * m * m;
                let observation = 2.0 * n * p * m + 11.0 * p * p * p + n * p * p;
                if ensemble <= observation {
                    Space::Ensemble
                } else {
                    Space::Observation
                }
            }
            fixed => fixed,
        }
    }
}

/// Multiplies the anomalies of `ensemble` by `factor` about its mean.
pub fn inflate(ensemble: &mut DMatrix<f64>, factor: f64) {
    if factor == 1.0 {
        return;
    }
    let mean = mean(ensemble);
    for mut column in ensemble.column_iter_mut() {
        for (x, m) in column.iter_mut().zip(mean.iter()) {
            *x = m + factor * (*x - m);
        }
    }
}

/// Checks an inflation factor.
pub(crate) fn check_inflation(factor: f64) -> Result<()> {
    if factor.is_finite() && factor >= 1.0 {
        Ok(())
    } else {
        Err(MedidaError::Assimilation(format!(
            "inflation must be a finite factor ≥ 1 on the anomalies (got {factor})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_resolve_by_their_counts() {
        let auto = Space::Auto;
        // The EnKF at N = p = 1,024: ensemble space for 100 members, observation space from
        // ≈ 700 on.
        assert_eq!(auto.resolve(1024, 1024, 100), Space::Ensemble);
        assert_eq!(auto.resolve(1024, 1024, 1000), Space::Observation);
        // The ETKF, whose decomposition is the same size either way, stays in ensemble space
        // until members outnumber observations.
        assert_eq!(auto.resolve_transform(1024, 1024, 1000), Space::Ensemble);
        assert_eq!(auto.resolve_transform(1024, 1024, 2000), Space::Observation);
        assert_eq!(auto.resolve_transform(1024, 64, 100), Space::Observation);
        for fixed in [Space::Ensemble, Space::Observation] {
            assert_eq!(fixed.resolve(1024, 1024, 100), fixed);
            assert_eq!(fixed.resolve_transform(1024, 1024, 100), fixed);
        }
    }
}
