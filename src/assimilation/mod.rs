//! Ensemble data assimilation, generic over any [`Model`](crate::solvers::Model) (DAPPER's
//! split): the observed system is data — a model, an [`Observation`] (H and R) and observed
//! values — and each filter is a small settings struct with one `analyse` method.

pub(crate) mod cholesky;
pub(crate) mod dense;
pub mod enkf;
pub mod ensemble;
pub mod etkf;
pub(crate) mod gemm;
pub mod letkf;
pub mod localization;
pub mod observation;
pub mod rotation;
pub mod twin;

pub use enkf::{Draws, StochasticEnkf};
pub use ensemble::{forecast, initial_ensemble, Space};
pub use etkf::Etkf;
pub use letkf::Letkf;
pub use localization::Geometry;
pub use observation::Observation;
pub use rotation::Rotated;
pub use twin::{run_twin, TwinResult, TwinSettings};

use crate::error::Result;
use nalgebra::DMatrix;

/// Runs `work` on a thread of the rayon pool (at once when already on one). An analysis is a
/// chain of short parallel phases; started from outside the pool every phase would wait for
/// sleeping workers to wake (tens of µs each, half the time of a 100-member analysis), while
/// from inside a worker the other workers pick the phases up as they are spawned.
pub(crate) fn in_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        work()
    } else {
        rayon::scope(|_| work())
    }
}

/// An analysis scheme: turns a forecast ensemble (state × members) into the analysis
/// ensemble given observed values. `cycle` numbers the assimilation cycle so that stochastic
/// schemes draw their numbers from (seed, cycle, member).
pub trait Analysis: Sync {
    fn analyse(
        &self,
        ensemble: &mut DMatrix<f64>,
        observation: &Observation,
        values: &[f64],
        cycle: u64,
    ) -> Result<()>;

    /// A short description for reports.
    fn name(&self) -> String;
}
