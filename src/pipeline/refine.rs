//! Refinement (one-step Gauss–Newton): the model corrected by the discovered terms
//! re-forecasts every pair, and what is left of the increment is fitted on the same terms by
//! least squares. A large error makes the model's own propagator an O(dt·error)
//! approximation; each pass shrinks that bias by the size of the remaining error. Not for
//! ensemble analyses (their increments are the filter's).

use crate::error::Result;
use crate::pipeline::pairs::PairSet;
use crate::pipeline::{correction_of, increment, library_state, NormalEquationsPerComponent};
use crate::regression::rvm::RvmFit;
use crate::systems::{Forecast, System};

/// Refinement passes after the first fit.
pub const REFINEMENT_PASSES: usize = 2;

/// Updates the coefficients of `fits` in place (the `pairs`, observed with `noise`); stops
/// early (keeping the last update) when
/// the corrected model cannot be built or fails, or a system is singular. Returns the last
/// pass's largest update relative to its coefficient (None: no pass completed).
pub fn refine<S: System>(
    system: &mut S,
    pairs: &PairSet<S::Value>,
    noise: f64,
    fits: &mut [RvmFit],
    rows: usize,
) -> Result<Option<f64>> {
    let mut last = None;
    let names = system.library_names();
    for _ in 0..REFINEMENT_PASSES {
        let Ok(mut forecaster) = system.forecaster(&correction_of(fits)) else {
            break; // a discovered term the solver cannot integrate: keep the first fit
        };
        let mut stats = NormalEquationsPerComponent::new(&names, fits.len());
        let mut forecast = Vec::new();
        pairs.for_each(system, |system, _, estimate| {
            if forecaster.forecast(&estimate.start, &mut forecast).is_err() {
                return Ok(false);
            }
            let residual = increment(&estimate.end, &forecast, system.dt());
            // The pair's library columns, re-derived rather than kept for every pair.
            let columns = system.columns(library_state(estimate, noise))?;
            stats.add(system.rows(&columns, &residual, Some(&forecaster))?)?;
            Ok(true)
        })?;
        if stats.rows() != rows {
            break;
        }
        let Some(largest) = update(&stats, fits) else {
            break;
        };
        last = Some(largest);
    }
    Ok(last)
}

/// One Gauss–Newton update: each component's least squares of what is left on its retained
/// terms, added to their coefficients. Returns the largest update relative to its
/// coefficient (None: a system is singular, nothing changed).
pub fn update(stats: &NormalEquationsPerComponent, fits: &mut [RvmFit]) -> Option<f64> {
    let updates: Vec<Vec<f64>> = stats
        .components
        .iter()
        .zip(fits.iter())
        .map(|(s, fit)| s.least_squares_on(&fit.retained))
        .collect::<Option<_>>()?;
    let mut largest: f64 = 0.0;
    for (fit, update) in fits.iter_mut().zip(updates) {
        for (&i, delta) in fit.retained.iter().zip(update) {
            fit.coefficients[i] += delta;
            largest = largest.max(delta.abs() / fit.coefficients[i].abs().max(1e-300));
        }
    }
    Some(largest)
}
