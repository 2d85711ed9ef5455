//! Local ETKF (Hunt et al. 2007): one ensemble-space analysis per grid point (shared by the
//! layers there), using the observations near it with their precision tapered by
//! Gaspari–Cohn (R-localization, as in DAPPER). The local analyses are independent and run
//! in parallel; the observations near a point are found through a per-point index.

use super::ensemble::{check_inflation, prepare};
use super::etkf::ensemble_transform;
use super::localization::{taper, Geometry, GASPARI_COHN_WIDTH, TAPER_CUTOFF};
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
    /// Observations within reach of grid point `p` (every layer there shares them), with the
    /// square roots of their tapers, in the order of the observation vector. `by_point` lists
    /// the observations at each grid point.
    fn local_observations(
        &self,
        p: usize,
        observation: &Observation,
        by_point: &[Vec<usize>],
    ) -> Vec<(usize, f64)> {
        // The Gaspari–Cohn taper vanishes beyond two half-widths.
        let reach = 2.0 * GASPARI_COHN_WIDTH * self.radius;
        let indices = observation.indices();
        let mut local: Vec<(usize, f64)> = self
            .geometry
            .around(p, reach)
            .into_iter()
            .flat_map(|q| by_point[q].iter().copied())
            .filter_map(|k| {
                let c = taper(self.geometry.distance(p, indices[k]), self.radius);
                (c > TAPER_CUTOFF).then(|| (k, c.sqrt()))
            })
            .collect();
        local.sort_unstable_by_key(|&(k, _)| k);
        local
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
        super::in_pool(|| {
            check_inflation(self.inflation)?;
            if !(self.radius.is_finite() && self.radius > 0.0) {
                return Err(MedidaError::Assimilation(format!(
                    "the localization radius must be positive and finite (got {})",
                    self.radius
                )));
            }
            if !ensemble.nrows().is_multiple_of(self.geometry.points()) {
                return Err(MedidaError::Assimilation(format!(
                    "a state of {} entries is not a whole number of layers of the {}-point grid",
                    ensemble.nrows(),
                    self.geometry.points()
                )));
            }
            let prepared = prepare(ensemble, observation, values)?;
            let (n, m) = ensemble.shape();
            let points = self.geometry.points();
            let layers = n / points;
            let mut by_point = vec![Vec::new(); points];
            for (k, &at) in observation.indices().iter().enumerate() {
                by_point[at % points].push(k);
            }
            let s = &prepared.scaled_observed;
            // One local analysis per grid point; its transform serves every layer there.
            let columns: Vec<Vec<Vec<f64>>> = (0..points)
                .into_par_iter()
                .map(|p| -> Result<Vec<Vec<f64>>> {
                    let local = self.local_observations(p, observation, &by_point);
                    let transform = if local.is_empty() {
                        None
                    } else {
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
                        Some(ensemble_transform(gram, &projected)?)
                    };
                    Ok((0..layers)
                        .map(|layer| {
                            let i = layer * points + p;
                            let anomaly_row = prepared.anomalies.row(i);
                            match &transform {
                                None => (0..m)
                                    .map(|j| prepared.mean[i] + self.inflation * anomaly_row[j])
                                    .collect(),
                                Some((w, t)) => {
                                    let mean = prepared.mean[i] + (anomaly_row * w)[0];
                                    (anomaly_row * t)
                                        .iter()
                                        .map(|a| mean + self.inflation * a)
                                        .collect()
                                }
                            }
                        })
                        .collect())
                })
                .collect::<Result<_>>()?;
            for (p, rows) in columns.iter().enumerate() {
                for (layer, row) in rows.iter().enumerate() {
                    for (j, x) in row.iter().enumerate() {
                        ensemble[(layer * points + p, j)] = *x;
                    }
                }
            }
            Ok(())
        })
    }

    fn name(&self) -> String {
        format!(
            "LETKF (radius {:.1}, inflation {})",
            self.radius, self.inflation
        )
    }
}
