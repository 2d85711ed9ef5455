//! The one random-stream scheme of medida: every draw of a run comes from the portable
//! ChaCha8 stream keyed by (seed, purpose, sample, member), so a seed means the same numbers
//! on every machine and thread count, and streams of different purposes never coincide.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// What a random stream is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Perturbed observations of the stochastic EnKF.
    ObservationPerturbation = 1,
    /// Spread of the initial ensemble.
    InitialSpread = 2,
    /// Noise of synthetic observations of a truth (member = time level × fields + field).
    ObservationNoise = 3,
    /// The stochastic EnKF's perturbations drawn as their ensemble-space image.
    PerturbationImage = 4,
    /// Random rotations of the analysis anomalies.
    Rotation = 5,
    /// Which grid points carry a sensor (drawn once per run).
    SensorSet = 6,
    /// A random initial state of a truth run.
    InitialState = 7,
    /// Random features or weights of an interpolator (member = field for one-per-field fits).
    Interpolator = 8,
    /// Bootstrap resamples of the pairs behind inclusion frequencies (sample = resample).
    Bootstrap = 9,
    /// Fresh observation noise the window choice propagates (member = candidate window).
    WindowChoice = 10,
}

/// The portable ChaCha8 stream for (seed, purpose, sample, member); `sample` is the pair or
/// filter cycle, `member` the ensemble member or the field.
pub fn stream(seed: u64, sample: u64, member: u64, purpose: Purpose) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&sample.to_le_bytes());
    key[16..24].copy_from_slice(&member.to_le_bytes());
    key[24..].copy_from_slice(&(purpose as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// `count` standard normal numbers from one stream.
pub fn standard_normals(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count).map(|_| StandardNormal.sample(rng)).collect()
}

/// `count` distinct indices out of `0..points`, uniformly, sorted.
pub fn distinct_indices(rng: &mut ChaCha8Rng, points: usize, count: usize) -> Vec<usize> {
    let mut chosen = rand::seq::index::sample(rng, points, count.min(points)).into_vec();
    chosen.sort_unstable();
    chosen
}
