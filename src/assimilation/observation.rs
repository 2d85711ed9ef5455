//! What is observed and how well: H as a selection of state entries (all, every k-th, a given
//! index set) and a diagonal observation-error covariance R.

use crate::error::{MedidaError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    state_size: usize,
    indices: Vec<usize>,
    variance: Vec<f64>,
}

impl Observation {
    /// Observes the state entries `indices` with error variances `variance` (R's diagonal).
    pub fn new(state_size: usize, indices: Vec<usize>, variance: Vec<f64>) -> Result<Self> {
        if indices.is_empty() {
            return Err(bad("no observed points were given"));
        }
        if let Some(&index) = indices.iter().find(|&&i| i >= state_size) {
            return Err(bad(format!(
                "observation index {index} is out of range for a state of {state_size} entries"
            )));
        }
        if variance.len() != indices.len() {
            return Err(bad(format!(
                "{} observation-error variances for {} observed points",
                variance.len(),
                indices.len()
            )));
        }
        if let Some((k, v)) = variance
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v > 0.0))
        {
            return Err(bad(format!(
                "observation-error variance {v} at observation {k} must be positive and finite"
            )));
        }
        Ok(Observation {
            state_size,
            indices,
            variance,
        })
    }

    /// Every entry observed with the same variance.
    pub fn full(state_size: usize, variance: f64) -> Result<Self> {
        Observation::every(state_size, 1, variance)
    }

    /// Every `stride`-th entry (0, stride, 2·stride, …) observed with the same variance.
    pub fn every(state_size: usize, stride: usize, variance: f64) -> Result<Self> {
        if stride == 0 {
            return Err(bad("the observation stride must be at least 1"));
        }
        let indices: Vec<usize> = (0..state_size).step_by(stride).collect();
        let count = indices.len();
        Observation::new(state_size, indices, vec![variance; count])
    }

    /// A given index set observed with the same variance.
    pub fn points(state_size: usize, indices: Vec<usize>, variance: f64) -> Result<Self> {
        let count = indices.len();
        Observation::new(state_size, indices, vec![variance; count])
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn state_size(&self) -> usize {
        self.state_size
    }

    /// State entries observed, in observation order.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Diagonal of R.
    pub fn variance(&self) -> &[f64] {
        &self.variance
    }

    /// H x.
    pub fn observe(&self, state: &[f64]) -> Vec<f64> {
        self.indices.iter().map(|&i| state[i]).collect()
    }

    /// Checks an observation vector: right length, every value finite.
    pub fn check(&self, values: &[f64]) -> Result<()> {
        if values.len() != self.len() {
            return Err(bad(format!(
                "{} observed values for {} observed points",
                values.len(),
                self.len()
            )));
        }
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "observation {k} (state entry {}) is not finite: {}",
                self.indices[k], values[k]
            )));
        }
        Ok(())
    }
}

fn bad(message: impl Into<String>) -> MedidaError {
    MedidaError::Assimilation(message.into())
}
