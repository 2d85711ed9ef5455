//! Stochastic EnKF with perturbed observations (Burgers et al. 1998; the MEDIDA paper's
//! filter): every member is updated with its own perturbed observation,
//! x_j ← x_j + K (y + ε_j − H x_j), K = A Sᵀ (S Sᵀ + (m−1) I)⁻¹ R^{-1/2} with the scaled
//! anomalies S = R^{-1/2} H A, computed in ensemble space (m × m) or observation space (p × p),
//! whichever is cheaper — never with an N × N matrix.

use super::cholesky::Cholesky;
use super::ensemble::{
    anomalies, check_inflation, inflate, mean, scaled_anomalies, stream, validate, Purpose, Space,
    MEMBERS_PER_TASK,
};
use super::gemm::{accumulate, gram, product};
use super::observation::Observation;
use super::Analysis;
use crate::error::Result;
use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Members per ensemble above which the observation-space update forms the gain explicitly
/// (one p × p inverse, then one product with the innovations) instead of solving with every
/// member's innovation: ≈ p³ extra work that pays once members outnumber observations twice.
const GAIN_FORM_RATIO: usize = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct StochasticEnkf {
    /// Multiplicative inflation of the analysis anomalies (1 = none), as in DAPPER.
    pub inflation: f64,
    /// Seed of the observation perturbations; member j of cycle c uses stream (seed, c, j).
    pub seed: u64,
    pub space: Space,
}

impl Default for StochasticEnkf {
    fn default() -> Self {
        StochasticEnkf {
            inflation: 1.0,
            seed: 0,
            space: Space::Auto,
        }
    }
}

/// Members per parallel task when drawing perturbations (fixed, so sums never depend on the
/// thread count).
const DRAW_BLOCK: usize = 64;

/// What turns the scaled anomalies S into the perturbed innovations Δ, in place.
struct Perturbation<'a> {
    seed: u64,
    cycle: u64,
    /// d = R^{-1/2}(y − H x̄).
    innovation: &'a [f64],
    /// Observations in the order of the state entries they observe.
    order: Vec<usize>,
}

impl Perturbation<'_> {
    /// Overwrites S with Δ_j = R^{-1/2}(y + ε_j − H x_j) = d − S_j + ε_j − ε̄, ε_j ~ N(0, I)
    /// from member j's own stream, centred over members (as DAPPER does) so the perturbations
    /// add no spurious mean shift. Draws follow the order of the observed state entries, not
    /// the order the observations were listed in, so a permutation of them changes nothing.
    fn apply(&self, buffer: &mut DMatrix<f64>) {
        let (p, m) = buffer.shape();
        let partial: Vec<Vec<f64>> = buffer
            .as_mut_slice()
            .par_chunks_mut(DRAW_BLOCK * p)
            .enumerate()
            .map(|(block, columns)| {
                let mut sum = vec![0.0; p];
                for (offset, column) in columns.chunks_exact_mut(p).enumerate() {
                    let member = (block * DRAW_BLOCK + offset) as u64;
                    let mut rng = stream(
                        self.seed,
                        self.cycle,
                        member,
                        Purpose::ObservationPerturbation,
                    );
                    for &k in &self.order {
                        let draw: f64 = StandardNormal.sample(&mut rng);
                        column[k] = self.innovation[k] - column[k] + draw;
                        sum[k] += draw;
                    }
                }
                sum
            })
            .collect();
        let mut draw_mean = vec![0.0; p];
        for sum in &partial {
            for (total, x) in draw_mean.iter_mut().zip(sum) {
                *total += x;
            }
        }
        for x in &mut draw_mean {
            *x /= m as f64;
        }
        buffer
            .as_mut_slice()
            .par_chunks_mut(p)
            .with_min_len(MEMBERS_PER_TASK)
            .for_each(|column| {
                for (x, mu) in column.iter_mut().zip(&draw_mean) {
                    *x -= mu;
                }
            });
    }

    /// Δ for scaled anomalies that must be kept.
    fn of(&self, s: &DMatrix<f64>) -> DMatrix<f64> {
        let mut delta = s.clone();
        self.apply(&mut delta);
        delta
    }
}

impl Analysis for StochasticEnkf {
    fn analyse(
        &self,
        ensemble: &mut DMatrix<f64>,
        observation: &Observation,
        values: &[f64],
        cycle: u64,
    ) -> Result<()> {
        check_inflation(self.inflation)?;
        validate(ensemble, observation, values)?;
        let (n, m) = ensemble.shape();
        let p = observation.len();
        let indices = observation.indices();
        let forecast_mean = mean(ensemble);
        let inverse_std: Vec<f64> = observation
            .variance()
            .iter()
            .map(|v| v.sqrt().recip())
            .collect();
        let s = scaled_anomalies(ensemble, &forecast_mean, indices, &inverse_std);
        let innovation: Vec<f64> = (0..p)
            .map(|k| (values[k] - forecast_mean[indices[k]]) * inverse_std[k])
            .collect();
        let mut order: Vec<usize> = (0..p).collect();
        order.sort_by_key(|&k| indices[k]);
        let perturbation = Perturbation {
            seed: self.seed,
            cycle,
            innovation: &innovation,
            order,
        };
        match self.space.resolve(n, p, m) {
            Space::Ensemble => {
                // E += A (SᵀS + (m−1) I)⁻¹ Sᵀ Δ
                let mut gram = gram(&s, true);
                for i in 0..m {
                    gram[(i, i)] += (m - 1) as f64;
                }
                let delta = perturbation.of(&s);
                let mut weights = product(&s, true, &delta, false);
                Cholesky::new(gram)?.solve_in_place(&mut weights);
                let a = anomalies(ensemble, &forecast_mean);
                accumulate(ensemble, &a, false, &weights, false);
            }
            _ => observation_space_update(
                ensemble,
                &forecast_mean,
                s,
                &perturbation,
                indices,
                &inverse_std,
            )?,
        }
        inflate(ensemble, self.inflation);
        Ok(())
    }

    fn name(&self) -> String {
        format!("EnKF (perturbed obs, inflation {})", self.inflation)
    }
}

/// E += A Sᵀ (SSᵀ + cI)⁻¹ Δ with c = m − 1, through the p × p matrix SSᵀ (a symmetric
/// rank-m update). An observed state row i (observation k) has A_i = R_k^{1/2} S_k, so its
/// update is R_k^{1/2} (SSᵀ (SSᵀ + cI)⁻¹ Δ)_k = R_k^{1/2} (Δ − c (SSᵀ + cI)⁻¹ Δ)_k — no
/// product with A at all. Rows nobody observes take A_U Sᵀ (SSᵀ + cI)⁻¹ Δ in whichever order
/// is cheaper. With many more members than observations the gain is formed once instead.
fn observation_space_update(
    ensemble: &mut DMatrix<f64>,
    forecast_mean: &DVector<f64>,
    mut s: DMatrix<f64>,
    perturbation: &Perturbation,
    indices: &[usize],
    inverse_std: &[f64],
) -> Result<()> {
    let (n, m) = ensemble.shape();
    let p = s.nrows();
    let c = (m - 1) as f64;
    let mut outer = gram(&s, false);
    for i in 0..p {
        outer[(i, i)] += c;
    }
    let cholesky = Cholesky::new(outer)?;
    // The first observation of every state entry (an entry observed twice has the same A_i).
    let mut observed_by = vec![usize::MAX; n];
    for (k, &i) in indices.iter().enumerate() {
        if observed_by[i] == usize::MAX {
            observed_by[i] = k;
        }
    }
    let mut observed = Vec::new();
    let mut unobserved = Vec::new();
    for (i, &k) in observed_by.iter().enumerate() {
        if k == usize::MAX {
            unobserved.push(i);
        } else {
            observed.push((i, k, inverse_std[k].recip()));
        }
    }
    let u = unobserved.len();
    let a_u = DMatrix::from_fn(u, m, |r, j| {
        ensemble[(unobserved[r], j)] - forecast_mean[unobserved[r]]
    });
    if m >= GAIN_FORM_RATIO * p {
        // K = [R^{1/2}(I − c Q) on observed rows; A_U Sᵀ Q on the others], Q = (SSᵀ + cI)⁻¹.
        let q = cholesky.inverse();
        let mut gain = DMatrix::zeros(n, p);
        for (l, column) in gain.as_mut_slice().chunks_exact_mut(n).enumerate() {
            for &(i, k, std) in &observed {
                let identity = if k == l { std } else { 0.0 };
                column[i] = identity - c * std * q[(k, l)];
            }
        }
        if u > 0 {
            let gain_u = product(&product(&a_u, false, &s, true), false, &q, false);
            for (r, &i) in unobserved.iter().enumerate() {
                for l in 0..p {
                    gain[(i, l)] = gain_u[(r, l)];
                }
            }
        }
        // S is no longer needed: its buffer becomes Δ.
        perturbation.apply(&mut s);
        accumulate(ensemble, &gain, false, &s, false);
        return Ok(());
    }
    // S is needed afterwards only for rows nobody observes; otherwise its buffer becomes Δ.
    let (delta, kept) = if u == 0 {
        perturbation.apply(&mut s);
        (s, None)
    } else {
        (perturbation.of(&s), Some(s))
    };
    let mut z = delta.clone();
    cholesky.solve_in_place(&mut z);
    ensemble
        .as_mut_slice()
        .par_chunks_mut(n)
        .zip(delta.as_slice().par_chunks(p))
        .zip(z.as_slice().par_chunks(p))
        .with_min_len(MEMBERS_PER_TASK)
        .for_each(|((member, delta), z)| {
            for &(i, k, std) in &observed {
                member[i] += std * (delta[k] - c * z[k]);
            }
        });
    if let Some(s) = kept {
        let update = if 2 * u * p * m < p * m * m + u * m * m {
            product(&product(&a_u, false, &s, true), false, &z, false)
        } else {
            product(&a_u, false, &product(&s, true, &z, false), false)
        };
        for (member, change) in ensemble
            .as_mut_slice()
            .chunks_exact_mut(n)
            .zip(update.as_slice().chunks_exact(u))
        {
            for (&i, x) in unobserved.iter().zip(change) {
                member[i] += x;
            }
        }
    }
    Ok(())
}
