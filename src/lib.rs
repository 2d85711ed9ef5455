//! medida: model-error discovery. From an imperfect model and sparse, noisy observations it
//! finds the missing or wrong terms of the model in closed form.

pub use medida_solvers as solvers;

pub mod plots;
