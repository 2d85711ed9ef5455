//! The forecast check: truth, imperfect and corrected models integrated from the same
//! estimated state, and the time until each model's relative error reaches a threshold.

use crate::pipeline::discovery::ForecastSkill;
use crate::systems::{Correction, Dynamics, System, Value};

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
