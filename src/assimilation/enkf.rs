//! Stochastic EnKF with perturbed observations (Burgers et al. 1998; the MEDIDA paper's
//! filter): every member is updated with its own perturbed observation,
//! x_j ← x_j + K (y + ε_j − H x_j), K = A Sᵀ (S Sᵀ + (m−1) I)⁻¹ R^{-1/2} with the scaled
//! anomalies S = R^{-1/2} H A, computed in ensemble space (m × m) or observation space (p × p),
//! whichever is cheaper — never with an N × N matrix. In ensemble space the perturbations
//! enter only through their image Sᵀ(ε_j − ε̄), which is drawn directly (see [`Draws`]).

use super::cholesky::Cholesky;
use super::ensemble::{
    check_inflation, inflate, mean, scaled_anomalies, stream, validate, Purpose, Space,
    MEMBERS_PER_TASK,
};
use super::gemm::{accumulate, gram, lower_times, product};
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
    pub draws: Draws,
}

impl Default for StochasticEnkf {
    fn default() -> Self {
        StochasticEnkf {
            inflation: 1.0,
            seed: 0,
            space: Space::Auto,
            draws: Draws::Auto,
        }
    }
}

/// How the perturbed observations are drawn. Both give the same analysis distribution; they
/// draw different numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Draws {
    /// In ensemble space the analysis sees the perturbations ε_j only through
    /// Sᵀ(ε_j − ε̄), whose columns are N(0, SᵀS) before centring: that m-vector is drawn
    /// directly (m² numbers instead of p·m, and no p × m product). Elsewhere, and when the
    /// scaled anomalies have rank below m − 1 (more members than observations, or a
    /// degenerate ensemble), as `PerObservation`.
    #[default]
    Auto,
    /// ε_j ~ N(0, I) per observation and member, as written (Burgers et al. 1998; the
    /// authors' code), in either space.
    PerObservation,
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
        let p = buffer.nrows();
        let draw_mean = self.draw(buffer, None);
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

    /// Overwrites S with the uncentred Δ_j + ε̄ = d − S_j + ε_j (into `copy` as well when
    /// given, in the same pass) and returns ε̄.
    fn draw(&self, buffer: &mut DMatrix<f64>, copy: Option<&mut DMatrix<f64>>) -> Vec<f64> {
        let (p, m) = buffer.shape();
        let block = DRAW_BLOCK * p;
        let copies: Vec<Option<&mut [f64]>> = match copy {
            Some(copy) => copy.as_mut_slice().chunks_mut(block).map(Some).collect(),
            None => (0..m.div_ceil(DRAW_BLOCK)).map(|_| None).collect(),
        };
        let partial: Vec<Vec<f64>> = buffer
            .as_mut_slice()
            .par_chunks_mut(block)
            .zip(copies)
            .enumerate()
            .map(|(block, (columns, copies))| {
                let mut sum = vec![0.0; p];
                let mut copies = copies.map(|c| c.chunks_exact_mut(p));
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
                    if let Some(copy) = copies.as_mut().and_then(|c| c.next()) {
                        copy.copy_from_slice(column);
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
        draw_mean
    }

    /// The centred ensemble-space image Sᵀ(ε_j − ε̄) of the perturbations, drawn without ε.
    /// Its uncentred columns are N(0, G), G = SᵀS. With L Lᵀ = G + α11ᵀ (positive definite
    /// when S, whose rows sum to zero over members, has rank m − 1) and z_j ~ N(0, I) from
    /// member j's stream, Π L z_j ~ N(0, Π(G + α11ᵀ)Π) = N(0, G), Π = I − 11ᵀ/m, because
    /// G1 = 0; removing the mean over members then centres the draws as `apply` does. `None`
    /// when G + α11ᵀ cannot be factored: the caller then draws ε itself.
    fn image(&self, g: &DMatrix<f64>, observations: usize) -> Option<DMatrix<f64>> {
        let m = g.nrows();
        let alpha = g.trace() / m as f64;
        if m < 2 || m - 1 > observations || !(alpha > 0.0 && alpha.is_finite()) {
            return None;
        }
        let factor = Cholesky::new(g.map(|x| x + alpha)).ok()?.into_factor();
        let mut z = DMatrix::zeros(m, m);
        z.as_mut_slice()
            .par_chunks_mut(m)
            .enumerate()
            .with_min_len(MEMBERS_PER_TASK)
            .for_each(|(member, column)| {
                let mut rng = stream(
                    self.seed,
                    self.cycle,
                    member as u64,
                    Purpose::PerturbationImage,
                );
                for x in column.iter_mut() {
                    *x = StandardNormal.sample(&mut rng);
                }
            });
        let mut y = lower_times(&factor, &z);
        // Π on the left (each column loses its mean), then on the right (each row loses its
        // mean over members).
        for mut column in y.column_iter_mut() {
            let mean = column.mean();
            column.add_scalar_mut(-mean);
        }
        let row_mean = y.column_mean();
        for mut column in y.column_iter_mut() {
            column -= &row_mean;
        }
        Some(y)
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
        super::in_pool(|| {
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
                Space::Ensemble => ensemble_space_update(ensemble, &s, &perturbation, self.draws)?,
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
        })
    }

    fn name(&self) -> String {
        format!("EnKF (perturbed obs, inflation {})", self.inflation)
    }
}

/// E ← E + A W with W = (SᵀS + cI)⁻¹ SᵀΔ, c = m − 1. Since A = E Π, that is E (I + Π W):
/// one product with an m × m matrix, and no anomaly matrix. SᵀΔ = Sᵀd 1ᵀ − SᵀS + Sᵀ(ε − ε̄1ᵀ),
/// the last term drawn in ensemble space where [`Draws`] allows.
fn ensemble_space_update(
    ensemble: &mut DMatrix<f64>,
    s: &DMatrix<f64>,
    perturbation: &Perturbation,
    draws: Draws,
) -> Result<()> {
    let (p, m) = s.shape();
    let g = gram(s, true);
    // The image and the factor of SᵀS + cI need only G: side by side.
    let (image, cholesky) = rayon::join(
        || match draws {
            Draws::Auto => perturbation.image(&g, p),
            Draws::PerObservation => None,
        },
        || {
            let mut system = g.clone();
            for i in 0..m {
                system[(i, i)] += (m - 1) as f64;
            }
            Cholesky::new(system)
        },
    );
    let mut weights = match image {
        Some(mut weights) => {
            // Sᵀd 1ᵀ − G + the image.
            let innovation = DMatrix::from_column_slice(p, 1, perturbation.innovation);
            let projected = product(s, true, &innovation, false);
            for (column, g) in weights
                .as_mut_slice()
                .chunks_exact_mut(m)
                .zip(g.as_slice().chunks_exact(m))
            {
                for ((w, g), d) in column.iter_mut().zip(g).zip(projected.iter()) {
                    *w += d - g;
                }
            }
            weights
        }
        None => product(s, true, &perturbation.of(s), false),
    };
    cholesky?.solve_in_place(&mut weights);
    for (j, mut column) in weights.column_iter_mut().enumerate() {
        let mean = column.mean();
        column.add_scalar_mut(-mean);
        column[j] += 1.0;
    }
    *ensemble = product(ensemble, false, &weights, false);
    Ok(())
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
    // The factorisation of SSᵀ + cI runs beside the drawing of the perturbations below: the
    // factorisation keeps the two cores only partly busy, and the drawing needs no factor.
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
        let left_u = (u > 0).then(|| product(&a_u, false, &s, true));
        // S is no longer needed: its buffer becomes Δ.
        let (q, ()) = rayon::join(
            || Cholesky::new(outer).map(|factor| factor.inverse()),
            || perturbation.apply(&mut s),
        );
        let q = q?;
        let mut gain = DMatrix::zeros(n, p);
        for (l, column) in gain.as_mut_slice().chunks_exact_mut(n).enumerate() {
            for &(i, k, std) in &observed {
                let identity = if k == l { std } else { 0.0 };
                column[i] = identity - c * std * q[(k, l)];
            }
        }
        if let Some(left_u) = left_u {
            let gain_u = product(&left_u, false, &q, false);
            for (r, &i) in unobserved.iter().enumerate() {
                for l in 0..p {
                    gain[(i, l)] = gain_u[(r, l)];
                }
            }
        }
        accumulate(ensemble, &gain, false, &s, false);
        return Ok(());
    }
    // S is needed afterwards only for rows nobody observes; otherwise its buffer becomes Δ.
    // Δ and Z start uncentred (one drawing pass writes both); by linearity the centred
    // Z = K⁻¹(Δ̃ − ε̄1ᵀ) is Z̃ − (K⁻¹ε̄)1ᵀ.
    let (mut delta, kept) = if u == 0 {
        (s, None)
    } else {
        (s.clone(), Some(s))
    };
    let mut z = DMatrix::zeros(p, m);
    let (cholesky, draw_mean) = rayon::join(
        || Cholesky::new(outer),
        || perturbation.draw(&mut delta, Some(&mut z)),
    );
    let cholesky = cholesky?;
    cholesky.solve_in_place(&mut z);
    let mut shift = DMatrix::from_column_slice(p, 1, &draw_mean);
    cholesky.solve_in_place(&mut shift);
    let shift = shift.as_slice();
    ensemble
        .as_mut_slice()
        .par_chunks_mut(n)
        .zip(delta.as_slice().par_chunks(p))
        .zip(z.as_slice().par_chunks(p))
        .with_min_len(MEMBERS_PER_TASK)
        .for_each(|((member, delta), z)| {
            for &(i, k, std) in &observed {
                member[i] += std * ((delta[k] - draw_mean[k]) - c * (z[k] - shift[k]));
            }
        });
    if let Some(s) = kept {
        z.as_mut_slice()
            .par_chunks_mut(p)
            .with_min_len(MEMBERS_PER_TASK)
            .for_each(|column| {
                for (x, v) in column.iter_mut().zip(shift) {
                    *x -= v;
                }
            });
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
