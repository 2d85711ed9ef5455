//! Stochastic EnKF with perturbed observations (Burgers et al. 1998; the MEDIDA paper's
//! filter): every member is updated with its own perturbed observation,
//! x_j ← x_j + K (y + ε_j − H x_j), K = A Yᵀ (Y Yᵀ + (m−1) R)⁻¹, computed in ensemble space
//! (m × m) or observation space (p × p), whichever is cheaper — never with an N × N matrix.

use super::ensemble::{
    check_inflation, inflate, prepare, standard_normals, stream, Purpose, Space,
};
use super::gemm::product;
use super::observation::Observation;
use super::Analysis;
use crate::error::{MedidaError, Result};
use nalgebra::DMatrix;
use rayon::prelude::*;

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

impl StochasticEnkf {
    /// Scaled perturbed innovations R^{-1/2}(y + ε_j − H x_j), ε_j ~ N(0, R) from the member's
    /// own stream, centred over members (as DAPPER does) so they add no spurious mean shift.
    fn scaled_innovations(
        &self,
        observed: &DMatrix<f64>,
        indices: &[usize],
        inverse_std: &nalgebra::DVector<f64>,
        values: &[f64],
        cycle: u64,
    ) -> DMatrix<f64> {
        let (p, m) = observed.shape();
        // Draws follow the order of the observed state entries, not the order the caller
        // listed the observations in, so a permutation of the observations changes nothing.
        let mut order: Vec<usize> = (0..p).collect();
        order.sort_by_key(|&k| indices[k]);
        let mut rank = vec![0; p];
        for (r, &k) in order.iter().enumerate() {
            rank[k] = r;
        }
        let columns: Vec<Vec<f64>> = (0..m)
            .into_par_iter()
            .map(|j| {
                let mut rng = stream(self.seed, cycle, j as u64, Purpose::ObservationPerturbation);
                standard_normals(&mut rng, p)
            })
            .collect();
        let mut perturbations = DMatrix::from_fn(p, m, |k, j| columns[j][rank[k]]);
        let row_means = perturbations.column_mean();
        for mut column in perturbations.column_iter_mut() {
            column -= &row_means;
        }
        DMatrix::from_fn(p, m, |k, j| {
            (values[k] - observed[(k, j)]) * inverse_std[k] + perturbations[(k, j)]
        })
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
        let prepared = prepare(ensemble, observation, values)?;
        let (n, m) = ensemble.shape();
        let p = observation.len();
        let s = &prepared.scaled_observed;
        let innovations = self.scaled_innovations(
            &prepared.observed,
            observation.indices(),
            &prepared.inverse_std,
            values,
            cycle,
        );
        let regularisation = (m - 1) as f64;
        let update = match self.space.resolve(n, p, m) {
            Space::Ensemble => {
                // A (SᵀS + (m−1) I)⁻¹ Sᵀ Δ
                let mut gram = product(s, true, s, false);
                for i in 0..m {
                    gram[(i, i)] += regularisation;
                }
                let rhs = product(s, true, &innovations, false);
                let weights = solve_spd(gram, rhs)?;
                product(&prepared.anomalies, false, &weights, false)
            }
            _ => {
                // G (SSᵀ + (m−1) I)⁻¹ Δ with G = A Sᵀ and SSᵀ = R^{-1/2} H G.
                let g = product(&prepared.anomalies, false, s, true);
                let mut gram = DMatrix::from_fn(p, p, |k, l| {
                    g[(observation.indices()[k], l)] * prepared.inverse_std[k]
                });
                for i in 0..p {
                    gram[(i, i)] += regularisation;
                }
                let z = solve_spd(gram, innovations)?;
                product(&g, false, &z, false)
            }
        };
        *ensemble += update;
        inflate(ensemble, self.inflation);
        Ok(())
    }

    fn name(&self) -> String {
        format!("EnKF (perturbed obs, inflation {})", self.inflation)
    }
}

/// X = M⁻¹ B for a symmetric positive definite M, by Cholesky.
pub(crate) fn solve_spd(matrix: DMatrix<f64>, rhs: DMatrix<f64>) -> Result<DMatrix<f64>> {
    let cholesky = nalgebra::Cholesky::new(matrix).ok_or_else(|| {
        MedidaError::Assimilation(
            "the analysis matrix is not positive definite (non-finite ensemble or observations?)"
                .into(),
        )
    })?;
    Ok(cholesky.solve(&rhs))
}
