//! One-step forecasts of a KS-family model with a chosen scheme, in physical space.

use crate::cnab2::Cnab2;
use crate::error::{check_finite, Result, SolverError};
use crate::etdrk4::Etdrk4;
use crate::grid1d::Spectral1d;
use crate::ks::KsModel;
use crate::rk4::Rk4;
use crate::stepper::{spectrum_is_finite, Stepper};
use num_complex::Complex64;
use std::fmt;
use std::str::FromStr;

/// Time-stepping schemes available for forecasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Crank–Nicolson / Adams–Bashforth 2; needs the state one step back.
    Cnab2,
    /// Exponential time differencing RK4.
    Etdrk4,
    /// Classical explicit RK4.
    Rk4,
}

impl FromStr for Scheme {
    type Err = SolverError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cnab2" => Ok(Scheme::Cnab2),
            "etdrk4" => Ok(Scheme::Etdrk4),
            "rk4" => Ok(Scheme::Rk4),
            other => Err(SolverError::Parameter {
                name: "scheme",
                value: f64::NAN,
                reason: format!("unknown scheme `{other}`: use \"cnab2\", \"etdrk4\" or \"rk4\""),
            }),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Cnab2 => "cnab2",
            Scheme::Etdrk4 => "etdrk4",
            Scheme::Rk4 => "rk4",
        })
    }
}

/// Boxed: the integrators own all their stage buffers' headers and differ in size.
#[derive(Clone)]
enum Integrator {
    Cnab2(Box<Cnab2>),
    Etdrk4(Box<Etdrk4>),
    Rk4(Box<Rk4>),
}

impl Integrator {
    fn stepper(&self) -> &dyn Stepper {
        match self {
            Integrator::Cnab2(s) => s.as_ref(),
            Integrator::Etdrk4(s) => s.as_ref(),
            Integrator::Rk4(s) => s.as_ref(),
        }
    }
}

/// Makes one step of a model from given states; reusable, allocation-free per call.
#[derive(Clone)]
pub struct KsForecaster {
    integrator: Integrator,
    /// The model's grid, for the transforms in and out of spectral space.
    grid: Spectral1d,
    previous: Vec<Complex64>,
    current: Vec<Complex64>,
    next: Vec<Complex64>,
}

impl KsForecaster {
    pub fn new(model: KsModel, scheme: Scheme, dt: f64) -> Result<Self> {
        let grid = model.grid().clone();
        let zero = vec![Complex64::new(0.0, 0.0); model.modes()];
        let integrator = match scheme {
            Scheme::Cnab2 => Integrator::Cnab2(Box::new(Cnab2::new(model, dt)?)),
            Scheme::Etdrk4 => Integrator::Etdrk4(Box::new(Etdrk4::new(model, dt)?)),
            Scheme::Rk4 => Integrator::Rk4(Box::new(Rk4::new(model, dt)?)),
        };
        Ok(KsForecaster {
            integrator,
            grid,
            previous: zero.clone(),
            current: zero.clone(),
            next: zero,
        })
    }

    pub fn scheme(&self) -> Scheme {
        match self.integrator {
            Integrator::Cnab2(_) => Scheme::Cnab2,
            Integrator::Etdrk4(_) => Scheme::Etdrk4,
            Integrator::Rk4(_) => Scheme::Rk4,
        }
    }

    pub fn dt(&self) -> f64 {
        self.integrator.stepper().dt()
    }

    pub fn model(&self) -> &KsModel {
        match &self.integrator {
            Integrator::Cnab2(s) => s.model(),
            Integrator::Etdrk4(s) => s.model(),
            Integrator::Rk4(s) => s.model(),
        }
    }

    /// Whether the scheme needs the state one step before the initial one.
    pub fn needs_previous(&self) -> bool {
        self.scheme() == Scheme::Cnab2
    }

    /// One step from `current` (and `previous` = state at t − dt for CNAB2) into `next`.
    pub fn forecast(
        &mut self,
        previous: Option<&[f64]>,
        current: &[f64],
        next: &mut [f64],
    ) -> Result<()> {
        let grid = &mut self.grid;
        grid.check_len("current state", current.len())?;
        grid.check_len("forecast", next.len())?;
        check_finite(current)?;
        grid.forward(current, &mut self.current);
        match &mut self.integrator {
            Integrator::Cnab2(s) => {
                let previous = previous.ok_or(SolverError::Parameter {
                    name: "previous",
                    value: f64::NAN,
                    reason: "cnab2 needs the state one model step before the initial state".into(),
                })?;
                grid.check_len("previous state", previous.len())?;
                check_finite(previous)?;
                grid.forward(previous, &mut self.previous);
                s.forecast(&self.previous, &self.current, &mut self.next)
            }
            Integrator::Etdrk4(s) => {
                self.next.copy_from_slice(&self.current);
                s.step(&mut self.next);
            }
            Integrator::Rk4(s) => {
                self.next.copy_from_slice(&self.current);
                s.step(&mut self.next);
            }
        }
        if !spectrum_is_finite(&self.next) {
            return Err(SolverError::NonFinite {
                time: self.dt(),
                step: 1,
            });
        }
        self.grid.inverse(&self.next, next);
        Ok(())
    }
}
