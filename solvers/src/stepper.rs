//! What every time stepper of a spectral model shares: one in-place step, and runs of many
//! steps that stop with an error naming the step when the state stops being finite.

use crate::error::{Result, SolverError};
use num_complex::Complex64;

/// How often (in steps) a long run checks the state for NaN/inf; NaN persists through the
/// FFTs, so checking every step would only cost time.
pub const FINITE_CHECK_INTERVAL: usize = 64;

pub trait Stepper {
    /// Time step.
    fn dt(&self) -> f64;

    /// Advances the spectrum `v` by one step, in place, allocating nothing.
    fn step(&mut self, v: &mut [Complex64]);

    /// Advances `steps` steps; `start_step` numbers the steps in the error of a blow-up.
    fn advance(&mut self, v: &mut [Complex64], steps: usize, start_step: usize) -> Result<()> {
        for s in 0..steps {
            self.step(v);
            if (s + 1) % FINITE_CHECK_INTERVAL == 0 || s + 1 == steps {
                let step = start_step + s + 1;
                if !spectrum_is_finite(v) {
                    return Err(SolverError::NonFinite {
                        time: step as f64 * self.dt(),
                        step,
                    });
                }
            }
        }
        Ok(())
    }
}

/// True when every entry of a spectrum is finite.
pub fn spectrum_is_finite(spectrum: &[Complex64]) -> bool {
    spectrum
        .iter()
        .all(|c| c.re.is_finite() && c.im.is_finite())
}
