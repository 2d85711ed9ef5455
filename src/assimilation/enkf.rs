//! Stochastic EnKF with perturbed observations (Burgers et al. 1998; the MEDIDA paper's
//! filter): every member is updated with its own perturbed observation,
//! x_j ← x_j + K (y + ε_j − H x_j), K = A Sᵀ (S Sᵀ + (m−1) I)⁻¹ R^{-1/2} with the scaled
//! anomalies S = R^{-1/2} H A, computed in ensemble space (m × m) or observation space (p × p),
//! whichever is cheaper — never with an N × N matrix. In ensemble space the perturbations
//! enter only through their image Sᵀ(ε_j − ε̄), which is drawn directly (see [`Draws`]).

use super::cholesky::Cholesky;
use super::dense::mirror_lower;
use super::ensemble::{
    check_inflation, inflate, scaled_block, stream, validated_mean, Purpose, Space,
    MEMBERS_PER_TASK,
};
use super::gemm::{
    accumulate, accumulate_columns, add_lower_gram, gram, lower_times, product,
    right_multiply_in_place,
};
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
        let (p, m) = buffer.shape();
        let mut draw_mean = self.draw(buffer, 0, None);
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

    /// Overwrites the columns of S of members `first`, `first` + 1, … with the uncentred
    /// Δ_j + ε̄ = d − S_j + ε_j (into `copy` as well when given, in the same pass) and returns
    /// Σ_j ε_j over them (in blocks of DRAW_BLOCK members from `first`, added in order).
    fn draw(
        &self,
        buffer: &mut DMatrix<f64>,
        first: usize,
        copy: Option<&mut DMatrix<f64>>,
    ) -> Vec<f64> {
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
                    let member = (first + block * DRAW_BLOCK + offset) as u64;
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
        let mut total = vec![0.0; p];
        for sum in &partial {
            for (total, x) in total.iter_mut().zip(sum) {
                *total += x;
            }
        }
        total
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
            let (n, m) = ensemble.shape();
            let p = observation.len();
            let indices = observation.indices();
            let forecast_mean = validated_mean(ensemble, observation, values)?;
            let inverse_std: Vec<f64> = observation
                .variance()
                .iter()
                .map(|v| v.sqrt().recip())
                .collect();
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
            let scaled = Scaled {
                mean: &forecast_mean,
                indices,
                inverse_std: &inverse_std,
            };
            match self.space.resolve(n, p, m) {
                Space::Observation if m >= GAIN_FORM_RATIO * p => {
                    gain_form_update(ensemble, &scaled, &perturbation)?
                }
                Space::Ensemble => {
                    let s = scaled.of(ensemble, 0..m);
                    ensemble_space_update(ensemble, &s, &perturbation, self.draws)?
                }
                _ => {
                    let s = scaled.of(ensemble, 0..m);
                    observation_space_update(ensemble, &scaled, s, &perturbation)?
                }
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
    // The image and the factor of SᵀS + cI need only G: side by side (Sᵀd with the factor).
    let (image, (cholesky, projected)) = rayon::join(
        || match draws {
            Draws::Auto => perturbation.image(&g, p),
            Draws::PerObservation => None,
        },
        || {
            let mut system = g.clone();
            for i in 0..m {
                system[(i, i)] += (m - 1) as f64;
            }
            let innovation = DMatrix::from_column_slice(p, 1, perturbation.innovation);
            (Cholesky::new(system), product(s, true, &innovation, false))
        },
    );
    let mut weights = match image {
        Some(mut weights) => {
            // Sᵀd 1ᵀ − G + the image.
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
    right_multiply_in_place(ensemble, &weights);
    Ok(())
}

/// What forms the scaled anomalies S = R^{-1/2}(H E − H x̄) of any block of members.
struct Scaled<'a> {
    mean: &'a DVector<f64>,
    indices: &'a [usize],
    inverse_std: &'a [f64],
}

impl Scaled<'_> {
    fn of(&self, ensemble: &DMatrix<f64>, members: std::ops::Range<usize>) -> DMatrix<f64> {
        let mut s = DMatrix::zeros(0, 0);
        self.fill(ensemble, members, &mut s);
        s
    }

    /// The block into a buffer that serves block after block.
    fn fill(&self, ensemble: &DMatrix<f64>, members: std::ops::Range<usize>, s: &mut DMatrix<f64>) {
        scaled_block(
            ensemble,
            members,
            self.mean,
            self.indices,
            self.inverse_std,
            s,
        );
    }
}

/// The state rows split by whether an observation sees them: (row i, its first observation k,
/// R_k^{1/2}) for observed rows (a row observed twice has the same A_i), and the others.
fn split_rows(n: usize, scaled: &Scaled) -> (Vec<(usize, usize, f64)>, Vec<usize>) {
    let mut observed_by = vec![usize::MAX; n];
    for (k, &i) in scaled.indices.iter().enumerate() {
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
            observed.push((i, k, scaled.inverse_std[k].recip()));
        }
    }
    (observed, unobserved)
}

/// The anomalies of the rows nobody observes (u × members).
fn unobserved_anomalies(
    ensemble: &DMatrix<f64>,
    members: std::ops::Range<usize>,
    mean: &DVector<f64>,
    unobserved: &[usize],
) -> DMatrix<f64> {
    let first = members.start;
    DMatrix::from_fn(unobserved.len(), members.len(), |r, j| {
        ensemble[(unobserved[r], first + j)] - mean[unobserved[r]]
    })
}

/// Members per block of the gain-form update.
const GAIN_BLOCK: usize = 256;

/// E += K Δ with the gain K = A Sᵀ Q R^{-1/2}, Q = (SSᵀ + cI)⁻¹, c = m − 1, formed once (the
/// update for many more members than observations): K = R^{1/2}(I − c Q) on observed rows
/// (see [`observation_space_update`]) and A_U Sᵀ Q on the others. S and Δ are never held
/// whole: SSᵀ and A_U Sᵀ are summed over blocks of GAIN_BLOCK members, then each block takes
/// K times its uncentred perturbed innovations Δ̃_j = Δ_j + ε̄, and the centring (K ε̄)1ᵀ
/// comes off at the end. Memory beyond the ensemble: p × p and blocks of GAIN_BLOCK columns.
fn gain_form_update(
    ensemble: &mut DMatrix<f64>,
    scaled: &Scaled,
    perturbation: &Perturbation,
) -> Result<()> {
    let (n, m) = ensemble.shape();
    let p = scaled.indices.len();
    let c = (m - 1) as f64;
    let (observed, unobserved) = split_rows(n, scaled);
    let u = unobserved.len();
    let blocks = || {
        (0..m)
            .step_by(GAIN_BLOCK)
            .map(|first| first..(first + GAIN_BLOCK).min(m))
    };
    let mut outer = DMatrix::zeros(p, p);
    let mut left_u = DMatrix::zeros(u, p);
    // One buffer for every block's S_b (then its Δ̃_b), one for its transpose.
    let (mut s, mut transposed) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    for members in blocks() {
        scaled.fill(ensemble, members.clone(), &mut s);
        add_lower_gram(&mut outer, s.as_slice(), &mut transposed);
        if u > 0 {
            // A_U,b S_bᵀ with S_bᵀ as add_lower_gram left it.
            let a_u = unobserved_anomalies(ensemble, members, scaled.mean, &unobserved);
            accumulate(&mut left_u, &a_u, false, &transposed, false);
        }
    }
    mirror_lower(&mut outer);
    for i in 0..p {
        outer[(i, i)] += c;
    }
    let q = Cholesky::new(outer)?.inverse();
    let mut gain = DMatrix::zeros(n, p);
    for (l, column) in gain.as_mut_slice().chunks_exact_mut(n).enumerate() {
        for &(i, k, std) in &observed {
            let identity = if k == l { std } else { 0.0 };
            column[i] = identity - c * std * q[(k, l)];
        }
    }
    if u > 0 {
        let gain_u = product(&left_u, false, &q, false);
        for (r, &i) in unobserved.iter().enumerate() {
            for l in 0..p {
                gain[(i, l)] = gain_u[(r, l)];
            }
        }
    }
    let mut draw_sum = vec![0.0; p];
    for members in blocks() {
        let first = members.start;
        scaled.fill(ensemble, members, &mut s);
        let sum = perturbation.draw(&mut s, first, None);
        for (total, x) in draw_sum.iter_mut().zip(&sum) {
            *total += x;
        }
        accumulate_columns(ensemble, first, &gain, &s);
    }
    let draw_mean = DMatrix::from_iterator(p, 1, draw_sum.iter().map(|x| x / m as f64));
    let shift = product(&gain, false, &draw_mean, false);
    let shift = shift.as_slice();
    ensemble
        .as_mut_slice()
        .par_chunks_mut(n)
        .with_min_len(MEMBERS_PER_TASK)
        .for_each(|member| {
            for (x, v) in member.iter_mut().zip(shift) {
                *x -= v;
            }
        });
    Ok(())
}

/// E += A Sᵀ (SSᵀ + cI)⁻¹ Δ with c = m − 1, through the p × p matrix SSᵀ (a symmetric
/// rank-m update). An observed state row i (observation k) has A_i = R_k^{1/2} S_k, so its
/// update is R_k^{1/2} (SSᵀ (SSᵀ + cI)⁻¹ Δ)_k = R_k^{1/2} (Δ − c (SSᵀ + cI)⁻¹ Δ)_k — no
/// product with A at all. Rows nobody observes take A_U Sᵀ (SSᵀ + cI)⁻¹ Δ in whichever order
/// is cheaper.
fn observation_space_update(
    ensemble: &mut DMatrix<f64>,
    scaled: &Scaled,
    s: DMatrix<f64>,
    perturbation: &Perturbation,
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
    let (observed, unobserved) = split_rows(n, scaled);
    let u = unobserved.len();
    let a_u = unobserved_anomalies(ensemble, 0..m, scaled.mean, &unobserved);
    // S is needed afterwards only for rows nobody observes; otherwise its buffer becomes Δ.
    // Δ and Z start uncentred (one drawing pass writes both); by linearity the centred
    // Z = K⁻¹(Δ̃ − ε̄1ᵀ) is Z̃ − (K⁻¹ε̄)1ᵀ.
    let (mut delta, kept) = if u == 0 {
        (s, None)
    } else {
        (s.clone(), Some(s))
    };
    let mut z = DMatrix::zeros(p, m);
    let (cholesky, mut draw_mean) = rayon::join(
        || Cholesky::new(outer),
        || perturbation.draw(&mut delta, 0, Some(&mut z)),
    );
    for x in &mut draw_mean {
        *x /= m as f64;
    }
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
