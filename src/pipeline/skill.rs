//! The forecast check: truth, imperfect and corrected models integrated from the same
//! estimated state, and the time until each model's relative error reaches a threshold.

use crate::error::Result;
use crate::pipeline::discovery::ForecastSkill;
use crate::pipeline::observe::ObservedLevel;
use crate::systems::{Correction, Dynamics, Forecast, System, Value};

/// The relative error whose first crossing is the skill.
pub const SKILL_THRESHOLD: f64 = 0.5;

/// Relative error ‖a − b‖ / ‖b‖.
pub fn relative_error<V: Value>(a: &[V], b: &[V]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (*x - *y).norm_sqr()).sum();
    let den: f64 = b.iter().map(|y| y.norm_sqr()).sum();
    (num / den.max(1e-300)).sqrt()
}

/// Skill of the imperfect and corrected models from `start`; None when the truth itself
/// cannot be integrated. The three runs go in parallel.
pub fn forecast_skill<S: System>(
    system: &S,
    correction: &Correction,
    start: &[S::Value],
) -> Option<ForecastSkill> {
    let ((truth, imperfect), corrected) = rayon::join(
        || {
            rayon::join(
                || system.trajectory(Dynamics::Truth, start),
                || system.trajectory(Dynamics::Imperfect, start),
            )
        },
        || system.trajectory(Dynamics::Corrected(correction), start),
    );
    let truth = truth.ok()?;
    let (interval, count) = system.skill_schedule();
    let errors = |run: &[Vec<S::Value>]| -> Vec<f64> {
        run.iter()
            .zip(&truth)
            .map(|(a, b)| relative_error(a, b))
            .collect()
    };
    let to_threshold = |e: &[f64]| {
        e.iter()
            .position(|&v| v >= SKILL_THRESHOLD)
            .map(|i| i as f64 * interval)
    };
    let failed = || vec![f64::INFINITY; truth.len()];
    let imperfect_error = imperfect.map_or_else(|_| failed(), |run| errors(&run));
    let (corrected_error, corrected_failure) = match corrected {
        Ok(run) => (errors(&run), None),
        Err(e) => (failed(), Some(e.to_string())),
    };
    Some(ForecastSkill {
        times: (0..truth.len()).map(|i| i as f64 * interval).collect(),
        threshold: SKILL_THRESHOLD,
        horizon: interval * count as f64,
        imperfect_time_to_half: to_threshold(&imperfect_error),
        corrected_time_to_half: to_threshold(&corrected_error),
        imperfect_error,
        corrected_error,
        corrected_failure,
    })
}

/// Relative errors of a model's forecast from `start` (its start levels) against later
/// observations, (model steps after the start, snapshot) in increasing order, over the
/// observed (non-NaN) points; stops (infinite errors after) when the model fails.
pub fn forecast_against<S: System>(
    system: &mut S,
    correction: &Correction,
    start: &[Vec<S::Value>],
    later: &[(usize, ObservedLevel)],
) -> (Vec<f64>, Option<String>) {
    let mut errors = Vec::with_capacity(later.len());
    let failure = (|| -> Result<()> {
        let mut forecaster = system.forecaster(correction)?;
        let mut levels: Vec<Vec<S::Value>> = start.to_vec();
        let mut out = Vec::new();
        let mut step = 0;
        for (steps, observed) in later {
            while step < *steps {
                forecaster.forecast(&levels, &mut out)?;
                levels.remove(0);
                levels.push(out.clone());
                step += 1;
            }
            let fields = system.observe(levels.last().expect("a level"));
            let (mut num, mut den) = (0.0, 0.0);
            for (f, o) in fields.iter().zip(&observed.fields) {
                for (a, b) in f.iter().zip(o) {
                    if !b.is_nan() {
                        num += (a - b) * (a - b);
                        den += b * b;
                    }
                }
            }
            let e = (num / den.max(1e-300)).sqrt();
            errors.push(if e.is_finite() { e } else { f64::INFINITY });
        }
        Ok(())
    })()
    .err()
    .map(|e| e.to_string());
    errors.resize(later.len(), f64::INFINITY);
    (errors, failure)
}
