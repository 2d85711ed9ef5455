//! medida: model-error discovery. From an imperfect model and sparse, noisy observations it
//! finds the missing or wrong terms of the model in closed form.
//!
//! The engine is one pipeline ([`pipeline`]) over systems that plug into it ([`systems`]):
//! a case file ([`case`]) selects the system and the shared settings; observation
//! ([`observe`]), assimilation ([`assimilation`]), the term libraries and row maps
//! ([`library`]), the regression ([`regression`]) and the output ([`output`]) are stages
//! that know nothing of which system runs.

pub use medida_solvers as solvers;

pub mod assimilation;
pub mod case;
pub mod cases;
pub mod error;
pub mod library;
pub mod memory;
pub mod npz;
pub mod observe;
pub mod output;
pub mod pipeline;
pub mod random;
pub mod regression;
pub mod systems;

pub use case::Case;
pub use error::{MedidaError, Result};
pub use pipeline::discovery::Discovery;
pub use systems::{run, simulate};
