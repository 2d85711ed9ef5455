//! The state estimate of each pair: the observation as is, fields interpolated from the
//! sensors, or (at the end of the pair) the mean of an ensemble analysis.

use crate::assimilation::ensemble::mean;
use crate::assimilation::localization::GASPARI_COHN_WIDTH;
use crate::assimilation::{Analysis, Etkf, Letkf, Observation, StochasticEnkf};
use crate::case::{Assimilation, AssimilationMethod};
use crate::error::{MedidaError, Result};
use crate::pipeline::observe::{ObservedLevel, ObservedPair};
use crate::random::{stream, Purpose};
use crate::systems::{MemberForecast, System, TruePair};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// The estimated states of one pair: the start levels, then the end.
#[derive(Clone, Debug)]
pub struct Estimate<V> {
    pub start: Vec<Vec<V>>,
    pub end: Vec<V>,
}

/// The states as observed (exact and full: the true states themselves), or fitted through
/// the sensors (every field of the run in one batch).
pub fn estimate_states<S: System>(
    system: &mut S,
    truth: &[TruePair<S::Value>],
    observed: Option<&[ObservedPair]>,
    sensors: Option<&[usize]>,
) -> Result<Vec<Estimate<S::Value>>> {
    let Some(observed) = observed else {
        return Ok(truth
            .iter()
            .map(|p| Estimate {
                start: p.start.clone(),
                end: p.end.clone(),
            })
            .collect());
    };
    let levels: Vec<&ObservedLevel> = observed.iter().flatten().collect();
    let fields: Vec<Vec<f64>> = match sensors {
        None => levels.iter().flat_map(|l| l.fields.clone()).collect(),
        Some(points) => {
            let values: Vec<Vec<f64>> = levels.iter().flat_map(|l| l.at(sensors)).collect();
            system.interpolate(points, &values)?
        }
    };
    let per_level = system.observed_fields().len();
    let mut states = fields
        .chunks_exact(per_level)
        .map(|fields| system.state_from(fields))
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    Ok(observed
        .iter()
        .map(|pair| {
            let mut start: Vec<Vec<S::Value>> = states.by_ref().take(pair.len()).collect();
            let end = start.pop().expect("a pair has an end level");
            Estimate { start, end }
        })
        .collect())
}

/// The paper's isolated-pair assimilation: members start from the estimated start levels
/// plus one perturbation each (the same at every level, so two-level schemes see a consistent
/// history), make one imperfect-model step in parallel, and the filter combines them with the
/// observations at the end of the pair. Returns the analysis mean (observed fields, stacked).
#[allow(clippy::too_many_arguments)]
pub fn ensemble_analysis<S: System>(
    system: &mut S,
    settings: &Assimilation,
    seed: u64,
    member_forecaster: &dyn MemberForecast,
    estimate: &Estimate<S::Value>,
    observed_end: &ObservedLevel,
    sensors: Option<&[usize]>,
    sample: usize,
) -> Result<Vec<f64>> {
    let start: Vec<Vec<f64>> = estimate
        .start
        .iter()
        .map(|s| system.observe(s).concat())
        .collect();
    let n = start[0].len();
    let points = system.grid_points();
    let members = settings.members;
    let perturbations: Vec<Vec<f64>> = (0..members)
        .map(|member| {
            let mut rng = stream(seed, sample as u64, member as u64, Purpose::InitialSpread);
            let last = start.last().expect("a start level");
            last.chunks_exact(points)
                .flat_map(|field| system.perturbation(field, settings.perturbation, &mut rng))
                .collect()
        })
        .collect();
    let mut ensemble = DMatrix::zeros(n, members);
    ensemble
        .as_mut_slice()
        .par_chunks_mut(n)
        .zip(perturbations.par_iter())
        .enumerate()
        .try_for_each_init(
            || (member_forecaster.boxed_clone(), start.clone()),
            |(forecaster, levels), (member, (next, perturbation))| -> Result<()> {
                for (level, base) in levels.iter_mut().zip(&start) {
                    for ((v, b), p) in level.iter_mut().zip(base).zip(perturbation) {
                        *v = b + p;
                    }
                }
                let views: Vec<&[f64]> = levels.iter().map(|l| l.as_slice()).collect();
                forecaster.forecast(&views, next).map_err(|e| {
                    MedidaError::Config(format!(
                        "member {member} of the forecast ensemble of pair {sample} failed: {e} (lower assimilation.perturbation)"
                    ))
                })
            },
        )?;
    let observation = observation_of(observed_end, sensors, points)?;
    let values: Vec<f64> = observed_end.at(sensors).concat();
    let (inflation, cycle) = (settings.inflation, sample as u64);
    match settings.method {
        AssimilationMethod::Enkf => StochasticEnkf {
            inflation,
            seed,
            ..Default::default()
        }
        .analyse(&mut ensemble, &observation, &values, cycle)?,
        AssimilationMethod::Etkf => Etkf {
            inflation,
            ..Default::default()
        }
        .analyse(&mut ensemble, &observation, &values, cycle)?,
        AssimilationMethod::Letkf => Letkf {
            inflation,
            radius: settings.localization / system.grid_spacing() / GASPARI_COHN_WIDTH,
            geometry: system.geometry(),
        }
        .analyse(&mut ensemble, &observation, &values, cycle)?,
        AssimilationMethod::Auto | AssimilationMethod::None => {
            unreachable!("only ensemble methods reach the ensemble analysis")
        }
    }
    Ok(mean(&ensemble).as_slice().to_vec())
}

/// H and R of the stacked observed fields: the sensor points of every field, each field
/// with its own noise variance.
fn observation_of(
    level: &ObservedLevel,
    sensors: Option<&[usize]>,
    points: usize,
) -> Result<Observation> {
    let all: Vec<usize>;
    let per_field = match sensors {
        Some(s) => s,
        None => {
            all = (0..points).collect();
            &all
        }
    };
    let mut indices = Vec::new();
    let mut variance = Vec::new();
    for (f, v) in level.variances.iter().enumerate() {
        indices.extend(per_field.iter().map(|p| p + f * points));
        variance.extend(std::iter::repeat_n(*v, per_field.len()));
    }
    Observation::new(level.fields.len() * points, indices, variance)
}
