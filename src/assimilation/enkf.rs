//! Stochastic EnKF with perturbed observations (Burgers et al. 1998; the MEDIDA paper's
//! filter): every member is updated with its own perturbed observation,
//! x_j ← x_j + K (y + ε_j − H x_j), K = A Yᵀ (Y Yᵀ + (m−1) R)⁻¹, computed in ensemble space
//! (m × m) or observation space (p × p), whichever is cheaper — never with an N × N matrix.

use super::cholesky::Cholesky;
use super::ensemble::{
    check_inflation, inflate, prepare, standard_normals, stream, Purpose, Space,
};
use super::gemm::{accumulate, product};
use super::observation::Observation;
use super::Analysis;
use crate::error::Result;
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
        let mut innovations = DMatrix::zeros(p, m);
        innovations
            .as_mut_slice()
            .par_chunks_mut(p)
            .enumerate()
            .for_each(|(j, column)| {
                let mut rng = stream(self.seed, cycle, j as u64, Purpose::ObservationPerturbation);
                let draws = standard_normals(&mut rng, p);
                for (x, &r) in column.iter_mut().zip(&rank) {
                    *x = draws[r];
                }
            });
        // Centre the perturbations over members (row means), then add the scaled innovation
        // of each member: R^{-1/2}(y − H x_j).
        let row_means = super::ensemble::mean(&innovations);
        for (column, observed) in innovations
            .as_mut_slice()
            .chunks_exact_mut(p)
            .zip(observed.as_slice().chunks_exact(p))
        {
            for k in 0..p {
                column[k] += (values[k] - observed[k]) * inverse_std[k] - row_means[k];
            }
        }
        innovations
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
        match self.space.resolve(n, p, m) {
            Space::Ensemble => {
                // E += A (SᵀS + (m−1) I)⁻¹ Sᵀ Δ
                let mut gram = product(s, true, s, false);
                for i in 0..m {
                    gram[(i, i)] += regularisation;
                }
                let mut weights = product(s, true, &innovations, false);
                Cholesky::new(gram)?.solve_in_place(&mut weights);
                accumulate(ensemble, &prepared.anomalies, false, &weights, false);
            }
            _ => {
                // E += G (SSᵀ + (m−1) I)⁻¹ Δ with G = A Sᵀ and SSᵀ = R^{-1/2} H G; the
                // solve goes through whichever of Gᵀ (N columns) or Δ (m columns) is narrower.
                let g = product(&prepared.anomalies, false, s, true);
                let mut gram = DMatrix::from_fn(p, p, |k, l| {
                    g[(observation.indices()[k], l)] * prepared.inverse_std[k]
                });
                for i in 0..p {
                    gram[(i, i)] += regularisation;
                }
                let cholesky = Cholesky::new(gram)?;
                if n < m {
                    let mut gain_transposed = g.transpose();
                    cholesky.solve_in_place(&mut gain_transposed);
                    accumulate(ensemble, &gain_transposed, true, &innovations, false);
                } else {
                    let mut z = innovations;
                    cholesky.solve_in_place(&mut z);
                    accumulate(ensemble, &g, false, &z, false);
                }
            }
        }
        inflate(ensemble, self.inflation);
        Ok(())
    }

    fn name(&self) -> String {
        format!("EnKF (perturbed obs, inflation {})", self.inflation)
    }
}
