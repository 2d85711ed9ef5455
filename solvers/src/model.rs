//! The forecast model as a data-assimilation filter sees it (DAPPER's split between the
//! observed system and the filter): a physical state vector advanced by one observation
//! interval. Filters are generic over this trait and never know which physics runs under it.

use crate::error::{finite_forecast, Result, SolverError};
use crate::{Etdrk4, KsModel, Stepper};
use num_complex::Complex64;

pub trait Model: Sync {
    /// Scratch one thread needs to advance a state (plans, stage buffers), so that ensemble
    /// members can be forecast in parallel without allocating per step.
    type Workspace: Send;

    /// Length of the state vector.
    fn state_size(&self) -> usize;

    /// Fresh scratch for one thread.
    fn workspace(&self) -> Self::Workspace;

    /// Advances `state` by one observation interval, in place. A state that stops being
    /// finite is an error, never a panic.
    fn advance(&self, state: &mut [f64], workspace: &mut Self::Workspace) -> Result<()>;

    /// Time between two calls of [`Model::advance`].
    fn interval(&self) -> f64;
}

/// A KS-family model on a periodic grid, advanced `steps` ETDRK4 steps per observation
/// interval; the state is u at the grid points.
#[derive(Clone)]
pub struct KsIntervalModel {
    prototype: Etdrk4,
    steps: usize,
}

/// Per-thread scratch of [`KsIntervalModel`]: its own stepper (plans are shared) and spectrum.
pub struct KsWorkspace {
    stepper: Etdrk4,
    spectrum: Vec<Complex64>,
}

impl KsIntervalModel {
    /// `steps` steps of `dt` between observations.
    pub fn new(model: KsModel, dt: f64, steps: usize) -> Result<Self> {
        check_steps(steps)?;
        Ok(KsIntervalModel {
            prototype: Etdrk4::new(model, dt)?,
            steps,
        })
    }
}

impl Model for KsIntervalModel {
    type Workspace = KsWorkspace;

    fn state_size(&self) -> usize {
        self.prototype.model().points()
    }

    fn workspace(&self) -> KsWorkspace {
        KsWorkspace {
            stepper: self.prototype.clone(),
            spectrum: vec![Complex64::new(0.0, 0.0); self.prototype.model().modes()],
        }
    }

    fn advance(&self, state: &mut [f64], workspace: &mut KsWorkspace) -> Result<()> {
        if state.len() != self.state_size() {
            return Err(SolverError::Length {
                what: "KS state",
                expected: self.state_size(),
                got: state.len(),
            });
        }
        let KsWorkspace { stepper, spectrum } = workspace;
        stepper.model_mut().grid_mut().forward(state, spectrum);
        stepper.advance(spectrum, self.steps, 0)?;
        stepper.model_mut().to_physical(spectrum, state);
        finite_forecast(state)
    }

    fn interval(&self) -> f64 {
        self.steps as f64 * self.prototype.dt()
    }
}

/// An observation interval holds at least one model step.
pub(crate) fn check_steps(steps: usize) -> Result<usize> {
    if steps == 0 {
        return Err(SolverError::Parameter {
            name: "steps per observation interval",
            value: 0.0,
            reason: "must be at least 1".into(),
        });
    }
    Ok(steps)
}
