//! Errors of the medida library, each naming what a scientist must fix.

use crate::solvers::SolverError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MedidaError {
    #[error(transparent)]
    Solver(#[from] SolverError),

    /// Bad numbers in user data: NaN/inf, wrong shapes.
    #[error("bad data: {0}")]
    Data(String),

    /// A library that cannot be built or evaluated.
    #[error("term library: {0}")]
    Library(String),

    /// Settings of the regression that make no sense.
    #[error("regression: {0}")]
    Regression(String),

    /// Ensemble filter inputs that make no sense (members, R, observations, ensemble).
    #[error("assimilation: {0}")]
    Assimilation(String),

    /// A case file or command-line setting.
    #[error("{0}")]
    Config(String),

    /// A file that could not be read or written.
    #[error("`{path}`: {reason}")]
    Io { path: String, reason: String },

    #[error(transparent)]
    Plot(#[from] PlotError),

    /// The caller asked the run to stop (Ctrl-C from Python).
    #[error("interrupted")]
    Interrupted,
}

/// Error of a plot: which file, and what went wrong.
#[derive(Debug, Error)]
#[error("could not draw `{path}`: {reason}")]
pub struct PlotError {
    pub path: String,
    pub reason: String,
}

pub type Result<T> = std::result::Result<T, MedidaError>;

impl MedidaError {
    pub fn io(path: impl AsRef<std::path::Path>, reason: impl std::fmt::Display) -> Self {
        MedidaError::Io {
            path: path.as_ref().display().to_string(),
            reason: reason.to_string(),
        }
    }
}
