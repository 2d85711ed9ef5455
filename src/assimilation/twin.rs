//! Twin experiments: a truth run of the model itself, synthetic noisy observations of it,
//! and a filter cycling forecast → analysis; scored by the time-mean analysis RMSE after a
//! burn-in, the number the published filter benchmarks quote (DAPPER's `rmse.a`).

use super::ensemble::{
    forecast, initial_ensemble, mean, rms_difference, spread, standard_normals, stream, Purpose,
};
use super::observation::Observation;
use super::Analysis;
use crate::error::{MedidaError, Result};
use crate::solvers::Model;

#[derive(Clone, Debug, PartialEq)]
pub struct TwinSettings {
    pub members: usize,
    /// Assimilation cycles in all.
    pub cycles: usize,
    /// Leading cycles left out of the scores.
    pub burn_in: usize,
    /// Standard deviation of the initial perturbations of truth and members (DAPPER: √0.001).
    pub initial_spread: f64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TwinResult {
    /// Time mean of the RMS error of the analysis mean.
    pub analysis_rmse: f64,
    /// Time mean of the RMS error of the forecast mean.
    pub forecast_rmse: f64,
    /// Time mean of the analysis spread.
    pub analysis_spread: f64,
    pub cycles_scored: usize,
}

/// Runs a twin experiment from `start` (a state on the attractor).
pub fn run_twin<M: Model, A: Analysis + ?Sized>(
    model: &M,
    observation: &Observation,
    filter: &A,
    start: &[f64],
    settings: &TwinSettings,
) -> Result<TwinResult> {
    if settings.cycles <= settings.burn_in {
        return Err(MedidaError::Assimilation(format!(
            "{} cycles leave nothing to score after a burn-in of {}",
            settings.cycles, settings.burn_in
        )));
    }
    let n = model.state_size();
    let mut workspace = model.workspace();
    let mut truth: Vec<f64> = {
        let mut rng = stream(settings.seed, 0, u64::MAX, Purpose::InitialSpread);
        let z = standard_normals(&mut rng, n);
        start
            .iter()
            .zip(z)
            .map(|(x, z)| x + settings.initial_spread * z)
            .collect()
    };
    let mut ensemble = initial_ensemble(
        start,
        settings.initial_spread,
        settings.members,
        settings.seed,
    );
    let (mut analysis_sum, mut forecast_sum, mut spread_sum) = (0.0, 0.0, 0.0);
    for cycle in 1..=settings.cycles as u64 {
        model.advance(&mut truth, &mut workspace)?;
        let mut rng = stream(settings.seed, cycle, 0, Purpose::ObservationNoise);
        let noise = standard_normals(&mut rng, observation.len());
        let values: Vec<f64> = observation
            .observe(&truth)
            .iter()
            .zip(observation.variance())
            .zip(noise)
            .map(|((x, v), z)| x + v.sqrt() * z)
            .collect();
        forecast(model, &mut ensemble)?;
        let forecast_error = rms_difference(mean(&ensemble).as_slice(), &truth);
        filter.analyse(&mut ensemble, observation, &values, cycle)?;
        if cycle as usize > settings.burn_in {
            analysis_sum += rms_difference(mean(&ensemble).as_slice(), &truth);
            forecast_sum += forecast_error;
            spread_sum += spread(&ensemble);
        }
    }
    let scored = settings.cycles - settings.burn_in;
    Ok(TwinResult {
        analysis_rmse: analysis_sum / scored as f64,
        forecast_rmse: forecast_sum / scored as f64,
        analysis_spread: spread_sum / scored as f64,
        cycles_scored: scored,
    })
}
