//! Local ETKF (Hunt et al. 2007): one ensemble-space analysis per state entry, using the
//! observations near it with their precision tapered by Gaspari–Cohn (R-localization, as in
//! DAPPER). The local analyses are independent and run in parallel.

use super::ensemble::{check_inflation, prepare};
use super::etkf::ensemble_transform;
use super::localization::{taper, Geometry, TAPER_CUTOFF};
use super::observation::Observation;
use super::Analysis;
use crate::error::{MedidaError, Result};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Letkf {
    /// Multiplicative inflation of the analysis anomalies (1 = none), as in DAPPER.
    pub inflation: f64,
    /// Localization radius in grid spacings (taper ≈ 0.63 at this distance, DAPPER's convention).
    pub radius: f64,
    pub geometry: Geometry,
}

impl Letkf {
    /// Observations within reach of state entry `i`, with the square roots of their tapers.
    fn local_observations(&self, i: usize, observation: &Observation) -> Vec<(usize, f64)> {
        observation
            .indices()
            .iter()
            .enumerate()
            .filter_map(|(k, &at)| {
                let c = taper(self.geometry.distance(i, at), self.radius);
                (c > TAPER_CUTOFF).then(|| (k, c.sqrt()))
            })
            .collect()
    }
}

impl Analysis for Letkf {
    fn analyse(
        &self,
        ensemble: &mut DMatrix<f64>,
        observation: &Observation,
        values: &[f64],
        _cycle: u64,
    ) -> Result<()> {
        check_inflation(self.inflation)?;
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return Err(MedidaError::Assimilation(format!(
                "the localization radius must be positive and finite (got {})",
                self.radius
            )));
        }
        if ensemble.nrows() % self.geometry.points() != 0 {
            return Err(MedidaError::Assimilation(format!(
                "a state of {} entries is not a whole number of layers of the {}-point grid",
                ensemble.nrows(),
                self.geometry.points()
            )));
        }
        let prepared = prepare(ensemble, observation, values)?;
        let (n, m) = ensemble.shape();
        let s = &prepared.scaled_observed;
        let rows: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|i| -> Result<Vec<f64>> {
                let local = self.local_observations(i, observation);
                let anomaly_row = prepared.anomalies.row(i);
                if local.is_empty() {
                    return Ok((0..m)
                        .map(|j| prepared.mean[i] + self.inflation * anomaly_row[j])
                        .collect());
                }
                let local_s = DMatrix::from_fn(local.len(), m, |r, j| {
                    let (k, weight) = local[r];
                    s[(k, j)] * weight
                });
                let local_d = DVector::from_fn(local.len(), |r, _| {
                    let (k, weight) = local[r];
                    prepared.scaled_innovation[k] * weight
                });
                let gram = local_s.transpose() * &local_s;
                let projected = local_s.transpose() * local_d;
                let (w, t) = ensemble_transform(gram, &projected)?;
                let mean = prepared.mean[i] + (anomaly_row * w)[0];
                let transformed = anomaly_row * t;
                Ok(transformed
                    .iter()
                    .map(|a| mean + self.inflation * a)
                    .collect())
            })
            .collect::<Result<_>>()?;
        for (i, row) in rows.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                ensemble[(i, j)] = *x;
            }
        }
        Ok(())
    }

    fn name(&self) -> String {
        format!(
            "LETKF (radius {:.1}, inflation {})",
            self.radius, self.inflation
        )
    }
}
