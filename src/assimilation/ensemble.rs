//! Ensembles as state × members matrices (one contiguous column per member), their parallel
//! forecast, and the random streams that make every member's numbers depend only on
//! (seed, cycle, member) — never on the thread that happens to run it.

use super::observation::Observation;
use crate::error::{MedidaError, Result};
use crate::solvers::Model;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// What a random stream is used for, so streams of different purposes never coincide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Perturbed observations of the stochastic EnKF.
    ObservationPerturbation = 1,
    /// Spread of the initial ensemble.
    InitialSpread = 2,
    /// Noise of synthetic observations of a truth.
    ObservationNoise = 3,
}

/// The portable ChaCha8 stream for (seed, cycle, member, purpose).
pub fn stream(seed: u64, cycle: u64, member: u64, purpose: Purpose) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&cycle.to_le_bytes());
    key[16..24].copy_from_slice(&member.to_le_bytes());
    key[24..].copy_from_slice(&(purpose as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// `count` standard normal numbers from one stream.
pub fn standard_normals(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count).map(|_| StandardNormal.sample(rng)).collect()
}

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

/// Ensemble mean (mean of the columns).
pub fn mean(ensemble: &DMatrix<f64>) -> DVector<f64> {
    let n = ensemble.nrows();
    let mut sum = vec![0.0; n];
    if n > 0 {
        for column in ensemble.as_slice().chunks_exact(n) {
            for (s, x) in sum.iter_mut().zip(column) {
                *s += x;
            }
        }
    }
    let scale = 1.0 / ensemble.ncols() as f64;
    DVector::from_iterator(n, sum.into_iter().map(|s| s * scale))
}

/// Anomalies: every member minus the mean.
pub fn anomalies(ensemble: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut a = ensemble.clone();
    let n = a.nrows();
    if n > 0 {
        for column in a.as_mut_slice().chunks_exact_mut(n) {
            for (x, m) in column.iter_mut().zip(mean.iter()) {
                *x -= m;
            }
        }
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
    /// H E (observations × members), unscaled.
    pub observed: DMatrix<f64>,
}

/// Validates the inputs of an analysis and computes [`Prepared`].
pub(crate) fn prepare(
    ensemble: &DMatrix<f64>,
    observation: &Observation,
    values: &[f64],
) -> Result<Prepared> {
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
    let n = ensemble.nrows();
    if let Some(k) = ensemble.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(MedidaError::Assimilation(format!(
            "forecast member {} is not finite at entry {}",
            k / n,
            k % n
        )));
    }
    let mean = mean(ensemble);
    let anomalies = anomalies(ensemble, &mean);
    let p = observation.len();
    let indices = observation.indices();
    let mut observed = DMatrix::zeros(p, members);
    for (column, state) in observed
        .as_mut_slice()
        .chunks_exact_mut(p)
        .zip(ensemble.as_slice().chunks_exact(n))
    {
        for (o, &i) in column.iter_mut().zip(indices) {
            *o = state[i];
        }
    }
    let observed_mean = self::mean(&observed);
    let inverse_std =
        DVector::from_iterator(p, observation.variance().iter().map(|v| v.sqrt().recip()));
    let mut scaled_observed = observed.clone();
    for column in scaled_observed.as_mut_slice().chunks_exact_mut(p) {
        for ((x, mu), w) in column
            .iter_mut()
            .zip(observed_mean.iter())
            .zip(inverse_std.iter())
        {
            *x = (*x - mu) * w;
        }
    }
    let scaled_innovation =
        DVector::from_fn(p, |k, _| (values[k] - observed_mean[k]) * inverse_std[k]);
    Ok(Prepared {
        mean,
        anomalies,
        scaled_observed,
        scaled_innovation,
        inverse_std,
        observed,
    })
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
    /// Resolves `Auto` by operation counts: ensemble space costs ~ (2p + N)·m², observation
    /// space ~ p²·m + p³/3 + 2·N·p·m.
    pub fn resolve(self, state: usize, observations: usize, members: usize) -> Space {
        match self {
            Space::Auto => {
                let (n, p, m) = (state as f64, observations as f64, members as f64);
                let ensemble = (2.0 * p + n) * m * m + m * m * m / 3.0;
                let observation = p * p * m + p * p * p / 3.0 + 2.0 * n * p * m;
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
