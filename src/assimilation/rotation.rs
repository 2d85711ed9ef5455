//! Random mean-preserving rotations of the analysis anomalies (DAPPER's `rot=True`, after
//! Sakov and Bocquet's iEnKS code), as a wrapper around any analysis: a random orthogonal O
//! with O1 = 1 applied after every analysis, E ← E O, changes neither the mean nor the sample
//! covariance, only which members carry them. The published square-root settings of DAPPER's
//! Lorenz-96 and KS benchmarks use it. Measured: it does not prevent the divergence episodes
//! of marginal settings — DAPPER's own KS square-root EnKF (20 members, inflation 1.03,
//! 20,000 cycles) diverged in one of two seeds with rotations and one of two without
//! (`scripts/dapper_ks_long_runs.py`).

use super::ensemble::{stream, Purpose};
use super::gemm::product;
use super::observation::Observation;
use super::Analysis;
use crate::error::Result;
use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution, StandardNormal};

/// `inner` followed by a random mean-preserving rotation of the members drawn from
/// (seed, cycle).
#[derive(Clone, Debug, PartialEq)]
pub struct Rotated<A> {
    pub inner: A,
    pub seed: u64,
}

impl<A: Analysis> Analysis for Rotated<A> {
    fn analyse(
        &self,
        ensemble: &mut DMatrix<f64>,
        observation: &Observation,
        values: &[f64],
        cycle: u64,
    ) -> Result<()> {
        super::in_pool(|| {
            self.inner.analyse(ensemble, observation, values, cycle)?;
            let rotation = random_rotation(ensemble.ncols(), self.seed, cycle);
            *ensemble = product(ensemble, false, &rotation, false);
            Ok(())
        })
    }

    fn name(&self) -> String {
        format!("{}, rotated", self.inner.name())
    }
}

/// A random m × m orthogonal matrix with O1 = 1, uniform (Haar) on the rotations of the
/// subspace orthogonal to 1: O = H diag(1, Q) H with Q Haar on m − 1 dimensions (QR of a
/// Gaussian matrix, columns signed by R's diagonal; Mezzadri 2007) and H the Householder
/// reflection that swaps e₁ and 1/√m.
pub fn random_rotation(members: usize, seed: u64, cycle: u64) -> DMatrix<f64> {
    let m = members;
    if m < 2 {
        return DMatrix::identity(m, m);
    }
    let mut rng = stream(seed, cycle, 0, Purpose::Rotation);
    let gaussian = DMatrix::from_fn(m - 1, m - 1, |_, _| StandardNormal.sample(&mut rng));
    let qr = gaussian.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (k, mut column) in q.column_iter_mut().enumerate() {
        if r[(k, k)] < 0.0 {
            column.neg_mut();
        }
    }
    let mut block = DMatrix::identity(m, m);
    block.view_mut((1, 1), (m - 1, m - 1)).copy_from(&q);
    // H = I − 2 v vᵀ / vᵀv with v = e₁ − 1/√m: H e₁ = 1/√m.
    let mut v = DVector::from_element(m, -1.0 / (m as f64).sqrt());
    v[0] += 1.0;
    let scale = 2.0 / v.norm_squared();
    let householder = DMatrix::identity(m, m) - &v * v.transpose() * scale;
    &householder * block * &householder
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assimilation::ensemble::{anomalies, mean};

    #[test]
    fn rotation_is_orthogonal_and_keeps_the_ones_vector() {
        for m in [2, 3, 20, 41] {
            let o = random_rotation(m, 7, 3);
            let identity = DMatrix::<f64>::identity(m, m);
            assert!((o.transpose() * &o - identity).amax() < 1e-13, "m = {m}");
            let ones = DVector::from_element(m, 1.0);
            assert!((&o * &ones - &ones).amax() < 1e-13, "m = {m}");
            // A rotation, not the identity, and a different one every cycle.
            assert!((&o - random_rotation(m, 7, 4)).amax() > 1e-3 || m == 2);
        }
    }

    #[test]
    fn rotated_ensemble_keeps_mean_and_covariance() {
        let e = DMatrix::from_fn(5, 7, |i, j| ((i * 13 + j * 7) % 11) as f64 * 0.3 - 1.0);
        let o = random_rotation(7, 1, 9);
        let rotated = product(&e, false, &o, false);
        let (m0, m1) = (mean(&e), mean(&rotated));
        assert!((&m0 - &m1).amax() < 1e-13);
        let a0 = anomalies(&e, &m0);
        let a1 = anomalies(&rotated, &m1);
        let c0 = &a0 * a0.transpose();
        let c1 = &a1 * a1.transpose();
        assert!((&c0 - &c1).amax() < 1e-12, "{c0} {c1}");
        assert!((&e - &rotated).amax() > 1e-3);
    }
}
