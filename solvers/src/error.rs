//! Errors of the solver crate: every bad input or blow-up becomes one of these, never a panic.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SolverError {
    /// A term name that does not follow the grammar of interfaces.md.
    #[error("unknown term `{term}`: {reason}")]
    UnknownTerm { term: String, reason: String },

    /// A term that parses but that this solver cannot integrate.
    #[error("unsupported term `{term}`: {reason}")]
    UnsupportedTerm { term: String, reason: String },

    /// A grid that cannot carry the requested operators.
    #[error("invalid grid: {0}")]
    Grid(String),

    /// A non-positive or non-finite parameter (time step, length, ...).
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    Parameter {
        name: &'static str,
        value: f64,
        reason: String,
    },

    /// The state stopped being finite while integrating.
    #[error("solution is no longer finite at t = {time} (step {step}): the run blew up; reduce dt or enable dealiasing")]
    NonFinite { time: f64, step: usize },

    /// A forecast over one observation interval that stopped being finite.
    #[error("forecast is no longer finite after one observation interval (first at state index {index}): the model blew up")]
    ForecastBlowUp { index: usize },

    /// Input data (an initial state, a snapshot) that contains NaN or infinity.
    #[error("input state contains a non-finite value at index {index}")]
    NonFiniteInput { index: usize },

    /// A buffer of the wrong length was handed to the solver.
    #[error("length mismatch for {what}: expected {expected}, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },

    /// Writing snapshots failed.
    #[error("could not write `{path}`: {reason}")]
    Io { path: String, reason: String },
}

pub type Result<T> = std::result::Result<T, SolverError>;

/// Checks that a positive, finite parameter really is one.
pub fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(SolverError::Parameter {
            name,
            value,
            reason: "must be positive and finite".into(),
        })
    }
}

/// Checks a physical-space state for NaN/inf.
pub fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SolverError::NonFiniteInput { index }),
        None => Ok(()),
    }
}

/// Checks a forecast state for NaN/inf after one observation interval.
pub fn finite_forecast(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SolverError::ForecastBlowUp { index }),
        None => Ok(()),
    }
}
