//! medida: model-error discovery. From an imperfect model and sparse, noisy observations it
//! finds the missing or wrong terms of the model in closed form.

pub use medida_solvers as solvers;

pub mod assimilation;
pub mod config;
pub mod equation;
pub mod error;
pub mod interpolation;
pub mod library;
pub mod memory;
pub mod mlp;
pub mod normal_equations;
pub mod npz;
pub mod pipeline;
pub mod plots;
pub mod qg_config;
pub mod qg_interpolation;
pub mod qg_library;
pub mod qg_pipeline;
pub mod report;
pub mod rvm;
pub mod sweep;

pub use error::{MedidaError, Result};
