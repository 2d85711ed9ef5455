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

/// The estimated states of one pair: the history levels (for a cycled filter), the start
/// levels, then the end.
#[derive(Clone, Debug)]
pub struct Estimate<V> {
    pub history: Vec<Vec<V>>,
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
                history: p.history.clone(),
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
    Ok(truth
        .iter()
        .zip(observed)
        .map(|(t, pair)| {
            let mut levels: Vec<Vec<S::Value>> = states.by_ref().take(pair.len()).collect();
            let end = levels.pop().expect("a pair has an end level");
            let start = levels.split_off(t.history.len());
            Estimate {
                history: levels,
                start,
                end,
            }
        })
        .collect())
}

/// What every ensemble analysis of a run shares.
pub struct EnsembleFilter<'a> {
    pub settings: &'a Assimilation,
    pub seed: u64,
    /// The imperfect model as the members see it.
    pub member_forecaster: &'a dyn MemberForecast,
    pub sensors: Option<&'a [usize]>,
}

impl EnsembleFilter<'_> {
    /// The paper's isolated-pair assimilation: members start from the estimated start levels
    /// plus one perturbation each (the same at every level, so two-level schemes see a
    /// consistent history), make one imperfect-model step in parallel, and the filter
    /// combines them with the observations at the end of the pair. Returns the analysis mean
    /// (observed fields, stacked).
    pub fn isolated<S: System>(
        &self,
        system: &mut S,
        estimate: &Estimate<S::Value>,
        observed_end: &ObservedLevel,
        sample: usize,
    ) -> Result<Vec<f64>> {
        let start: Vec<Vec<f64>> = estimate
            .start
            .iter()
            .map(|s| system.observe(s).concat())
            .collect();
        let last = start.last().expect("a start level");
        let perturbations = self.perturbations(system, last, sample);
        let members = self.settings.members;
        let levels: Vec<DMatrix<f64>> = start
            .iter()
            .map(|level| {
                DMatrix::from_fn(level.len(), members, |i, j| level[i] + perturbations[j][i])
            })
            .collect();
        let mut ensemble = DMatrix::zeros(last.len(), members);
        self.forecast_members(&levels, &mut ensemble, sample)?;
        self.analyse(system, &mut ensemble, observed_end, sample as u64)?;
        Ok(mean(&ensemble).as_slice().to_vec())
    }

    /// A cycled filter through one pair: the ensemble starts at the first history level from
    /// its estimate plus perturbations, and every later level (history, start, end) is one
    /// imperfect-model step of every member (from its own last two states) and one analysis.
    /// Returns the analysis means at the pair's start levels and end (observed fields,
    /// stacked).
    pub fn cycled<S: System>(
        &self,
        system: &mut S,
        estimate: &Estimate<S::Value>,
        observed: &ObservedPair,
        sample: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let history = estimate.history.len();
        let first = system.observe(&estimate.history[0]).concat();
        let perturbations = self.perturbations(system, &first, sample);
        let (n, members) = (first.len(), self.settings.members);
        let mut current = DMatrix::from_fn(n, members, |i, j| first[i] + perturbations[j][i]);
        let mut previous = current.clone();
        let mut means = Vec::new();
        for (level, observation) in observed.iter().enumerate().skip(1) {
            let mut next = DMatrix::zeros(n, members);
            self.forecast_members(&[previous, current.clone()], &mut next, sample)?;
            // One stream of filter draws per (pair, level).
            let cycle = ((sample as u64) << 20) | level as u64;
            self.analyse(system, &mut next, observation, cycle)?;
            previous = std::mem::replace(&mut current, next);
            if level >= history {
                means.push(mean(&current).as_slice().to_vec());
            }
        }
        Ok(means)
    }

    /// One perturbation of the stacked observed fields per member, from the stream
    /// (seed, initial spread, pair, member).
    fn perturbations<S: System>(
        &self,
        system: &mut S,
        fields: &[f64],
        sample: usize,
    ) -> Vec<Vec<f64>> {
        let points = system.grid_points();
        (0..self.settings.members)
            .map(|member| {
                let mut rng = stream(
                    self.seed,
                    sample as u64,
                    member as u64,
                    Purpose::InitialSpread,
                );
                fields
                    .chunks_exact(points)
                    .flat_map(|field| {
                        system.perturbation(field, self.settings.perturbation, &mut rng)
                    })
                    .collect()
            })
            .collect()
    }

    /// Every member one imperfect-model step from its start levels (one matrix per level, a
    /// column per member), in parallel, into `out`.
    fn forecast_members(
        &self,
        levels: &[DMatrix<f64>],
        out: &mut DMatrix<f64>,
        sample: usize,
    ) -> Result<()> {
        let n = out.nrows();
        out.as_mut_slice()
            .par_chunks_mut(n)
            .enumerate()
            .try_for_each_init(
                || self.member_forecaster.boxed_clone(),
                |forecaster, (member, next)| -> Result<()> {
                    let start: Vec<&[f64]> = levels
                        .iter()
                        .map(|l| &l.as_slice()[member * n..(member + 1) * n])
                        .collect();
                    forecaster.forecast(&start, next).map_err(|e| {
                        MedidaError::Config(format!(
                            "member {member} of the forecast ensemble of pair {sample} failed: {e} (lower assimilation.perturbation)"
                        ))
                    })
                },
            )
    }

    /// The filter's analysis of the ensemble with the observations of one level.
    fn analyse<S: System>(
        &self,
        system: &S,
        ensemble: &mut DMatrix<f64>,
        level: &ObservedLevel,
        cycle: u64,
    ) -> Result<()> {
        let observation = observation_of(level, self.sensors, system.grid_points())?;
        let values: Vec<f64> = level.at(self.sensors).concat();
        let inflation = self.settings.inflation;
        match self.settings.method {
            AssimilationMethod::Enkf => StochasticEnkf {
                inflation,
                seed: self.seed,
                ..Default::default()
            }
            .analyse(ensemble, &observation, &values, cycle),
            AssimilationMethod::Etkf => Etkf {
                inflation,
                ..Default::default()
            }
            .analyse(ensemble, &observation, &values, cycle),
            AssimilationMethod::Letkf => Letkf {
                inflation,
                radius: self.settings.localization / system.grid_spacing() / GASPARI_COHN_WIDTH,
                geometry: system.geometry(),
            }
            .analyse(ensemble, &observation, &values, cycle),
            AssimilationMethod::Auto | AssimilationMethod::None => {
                unreachable!("only ensemble methods reach the ensemble analysis")
            }
        }
    }
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
