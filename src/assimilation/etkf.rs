//! Ensemble transform Kalman filter (Bishop et al. 2001; Hunt et al. 2007): a deterministic,
//! symmetric square-root update x̄ᵃ = x̄ + A w, Aᵃ = A T with
//! T = √(m−1) (SᵀS + (m−1) I)^{-1/2}, in ensemble space, or through the p × p matrix SSᵀ when
//! members outnumber observations. Exact (equal to the Kalman filter) whenever the forecast
//! anomalies span the state.

use super::dense::symmetric_eigen;
use super::ensemble::{check_inflation, prepare, Prepared, Space};
use super::gemm::{gram, product};
use super::observation::Observation;
use super::Analysis;
use crate::error::Result;
use nalgebra::{DMatrix, DVector};

#[derive(Clone, Debug, PartialEq)]
pub struct Etkf {
    /// Multiplicative inflation of the analysis anomalies (1 = none), as in DAPPER.
    pub inflation: f64,
    pub space: Space,
}

impl Default for Etkf {
    fn default() -> Self {
        Etkf {
            inflation: 1.0,
            space: Space::Auto,
        }
    }
}

/// Mean weights w and transform T of one ensemble-space analysis with precision-scaled
/// observation anomalies `s` (p × m) and innovation `d` (p): w = (SᵀS + (m−1)I)⁻¹ Sᵀ d.
pub(crate) fn ensemble_transform(
    gram: DMatrix<f64>,
    projected_innovation: &DVector<f64>,
) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let m = gram.nrows();
    let a = (m - 1) as f64;
    let (values, vectors) = symmetric_eigen(&gram)?;
    let v = &vectors;
    let d: Vec<f64> = values.iter().map(|l| l.max(0.0) + a).collect();
    let vt_d = v.transpose() * projected_innovation;
    let scaled = DVector::from_fn(m, |k, _| vt_d[k] / d[k]);
    let w = v * scaled;
    let mut v_scaled = v.clone();
    for (k, mut column) in v_scaled.column_iter_mut().enumerate() {
        column *= (a / d[k]).sqrt();
    }
    let t = product(&v_scaled, false, v, true);
    Ok((w, t))
}

impl Etkf {
    fn ensemble_space(&self, prepared: &Prepared) -> Result<DMatrix<f64>> {
        let s = &prepared.scaled_observed;
        let gram = gram(s, true);
        let projected = s.transpose() * &prepared.scaled_innovation;
        let (w, t) = ensemble_transform(gram, &projected)?;
        let mean = &prepared.mean + &prepared.anomalies * w;
        let mut analysis = product(&prepared.anomalies, false, &t, false);
        finish(&mut analysis, &mean, self.inflation);
        Ok(analysis)
    }

    fn observation_space(
        &self,
        prepared: &Prepared,
        observation: &Observation,
    ) -> Result<DMatrix<f64>> {
        let s = &prepared.scaled_observed;
        let m = s.ncols();
        let p = s.nrows();
        let a = (m - 1) as f64;
        // G = A Sᵀ (N × p); SSᵀ = R^{-1/2} H G.
        let g = product(&prepared.anomalies, false, s, true);
        let gram = DMatrix::from_fn(p, p, |k, l| {
            g[(observation.indices()[k], l)] * prepared.inverse_std[k]
        });
        let (values, vectors) = symmetric_eigen(&gram)?;
        let u = &vectors;
        let lambda: Vec<f64> = values.iter().map(|l| l.max(0.0)).collect();
        // Mean: x̄ + G U (Λ + a)⁻¹ Uᵀ s (push-through of (SᵀS + aI)⁻¹Sᵀ).
        let ut_s = u.transpose() * &prepared.scaled_innovation;
        let mean_coefficients = u * DVector::from_fn(p, |k, _| ut_s[k] / (lambda[k] + a));
        let mean = &prepared.mean + &g * mean_coefficients;
        // Anomalies: A T = A + G U diag(g_k/λ_k) Uᵀ S with
        // g_k/λ_k = −1 / ((λ_k + a)(1 + √(a/(λ_k + a)))), stable as λ_k → 0.
        let mut u_scaled = u.clone();
        for (k, mut column) in u_scaled.column_iter_mut().enumerate() {
            let l = lambda[k] + a;
            column *= -1.0 / (l * (1.0 + (a / l).sqrt()));
        }
        let core = product(&u_scaled, false, u, true);
        let gc = product(&g, false, &core, false);
        let mut analysis = prepared.anomalies.clone() + product(&gc, false, s, false);
        finish(&mut analysis, &mean, self.inflation);
        Ok(analysis)
    }
}

/// Turns analysis anomalies into members: x̄ᵃ + inflation · Aᵃ.
fn finish(anomalies: &mut DMatrix<f64>, mean: &DVector<f64>, inflation: f64) {
    for mut column in anomalies.column_iter_mut() {
        for (x, m) in column.iter_mut().zip(mean.iter()) {
            *x = m + inflation * *x;
        }
    }
}

impl Analysis for Etkf {
    fn analyse(
        &self,
        ensemble: &mut DMatrix<f64>,
        observation: &Observation,
        values: &[f64],
        _cycle: u64,
    ) -> Result<()> {
        super::in_pool(|| {
            check_inflation(self.inflation)?;
            let prepared = prepare(ensemble, observation, values)?;
            let (n, m) = ensemble.shape();
            *ensemble = match self.space.resolve_transform(n, observation.len(), m) {
                Space::Ensemble => self.ensemble_space(&prepared)?,
                _ => self.observation_space(&prepared, observation)?,
            };
            Ok(())
        })
    }

    fn name(&self) -> String {
        format!("ETKF (inflation {})", self.inflation)
    }
}
