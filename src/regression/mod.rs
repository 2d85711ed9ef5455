//! The regression on any matrix: accumulated normal equations, the relevance vector machine,
//! the threshold sweep that chooses a model, resampling of blocks of rows (inclusion
//! frequencies, held-out scores), and the discovered equation.

pub mod equation;
pub mod normal_equations;
pub mod resample;
pub mod rvm;
pub mod sweep;
