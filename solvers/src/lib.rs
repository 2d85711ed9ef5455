//! Spectral solvers for medida: periodic grids, the Kuramoto–Sivashinsky family and its time
//! steppers. Knows nothing of assimilation or regression.

// Indexed loops over several arrays of the same length read closer to the equations here.
#![allow(clippy::needless_range_loop)]

pub mod cnab2;
pub mod error;
pub mod etdrk4;
pub mod forecast;
pub mod grid1d;
pub mod grid2d;
pub mod ks;
pub mod lorenz96;
pub mod model;
pub(crate) mod modes;
pub mod qg;
pub mod qg_stepper;
pub mod real_fft;
pub mod rk4;
pub mod simd;
pub mod stepper;
pub mod term;
pub mod truth;

pub use cnab2::Cnab2;
pub use error::{Result, SolverError};
pub use etdrk4::Etdrk4;
pub use forecast::{KsForecaster, Scheme};
pub use grid1d::Spectral1d;
pub use grid2d::{Padding, Spectral2d};
pub use ks::{KsModel, KsParams};
pub use lorenz96::Lorenz96;
pub use model::{KsIntervalModel, Model};
pub use qg::{EdgeDistance, Parameterization, QgModel, QgParams, QgTerm};
pub use qg_stepper::{QgIntervalModel, QgScheme, QgStepper};
pub use real_fft::RealFft;
pub use rk4::Rk4;
pub use stepper::Stepper;
pub use term::Term;
pub use truth::{
    medida_initial_state, resume_with_snapshots, run_with_snapshots, Checkpoint, Snapshots,
};
