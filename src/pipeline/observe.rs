//! Observing the true pairs: every observed field of every time level gets noise
//! N(0, (noise · std of the true field)²), one stream per (pair, level, field); sensors then
//! read the noisy field at their points.

use crate::library::rows::std_of;
use crate::random::{stream, Purpose};
use crate::systems::{System, TruePair};
use rand::Rng;
use rand_distr::StandardNormal;

/// One time level as observed: the noisy fields on the whole grid and their noise variances.
#[derive(Clone, Debug)]
pub struct ObservedLevel {
    pub fields: Vec<Vec<f64>>,
    pub variances: Vec<f64>,
}

impl ObservedLevel {
    /// The values the sensors read, field after field (every point without sensors).
    pub fn at(&self, sensors: Option<&[usize]>) -> Vec<Vec<f64>> {
        match sensors {
            Some(points) => self
                .fields
                .iter()
                .map(|f| points.iter().map(|&p| f[p]).collect())
                .collect(),
            None => self.fields.clone(),
        }
    }
}

/// The observed pair: the history levels, the start levels, then the end.
pub type ObservedPair = Vec<ObservedLevel>;

/// Observes every level of every pair with relative noise `noise`; the end is that of the
/// `end`-th window the truth was asked for (each window's end draws its own noise). `truth`
/// are the run's pairs from number `first` on (the noise of a pair depends on its number
/// only, however the pairs are taken).
pub fn observe_pairs<S: System>(
    system: &mut S,
    truth: &[TruePair<S::Value>],
    first: usize,
    noise: f64,
    seed: u64,
    end: usize,
) -> Vec<ObservedPair> {
    truth
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            let k = first + i;
            let last = pair.history.len() + pair.start.len();
            pair.history
                .iter()
                .chain(&pair.start)
                .chain(std::iter::once(&pair.end))
                .enumerate()
                .map(|(level, state)| {
                    let level = if level == last { level + end } else { level };
                    let fields = system.observe(state);
                    let count = fields.len();
                    let (fields, variances) = fields
                        .into_iter()
                        .enumerate()
                        .map(|(f, field)| {
                            let member = (level * count + f) as u64;
                            add_noise(
                                field,
                                noise,
                                stream(seed, k as u64, member, Purpose::ObservationNoise),
                            )
                        })
                        .unzip();
                    ObservedLevel { fields, variances }
                })
                .collect()
        })
        .collect()
}

/// The field plus N(0, σ²) per point, σ = noise · std(field); returns it with σ².
fn add_noise(mut field: Vec<f64>, noise: f64, mut rng: rand_chacha::ChaCha8Rng) -> (Vec<f64>, f64) {
    let sigma = noise * std_of(&field);
    if noise > 0.0 {
        for v in field.iter_mut() {
            *v += sigma * rng.sample::<f64, _>(StandardNormal);
        }
    }
    (field, sigma * sigma)
}
