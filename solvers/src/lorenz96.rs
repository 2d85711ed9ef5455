//! Lorenz-96 (Lorenz 1996): dx_i/dt = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F on a ring, the
//! standard small chaotic system for validating filters (Sakov & Oke 2008: 40 variables,
//! F = 8, one RK4 step of 0.05 between observations).

use crate::error::{finite_forecast, positive, Result, SolverError};
use crate::model::{check_steps, Model};

#[derive(Clone, Debug)]
pub struct Lorenz96 {
    variables: usize,
    forcing: f64,
    dt: f64,
    steps: usize,
}

/// RK4 stage buffers.
pub struct Lorenz96Workspace {
    k1: Vec<f64>,
    k2: Vec<f64>,
    k3: Vec<f64>,
    k4: Vec<f64>,
    stage: Vec<f64>,
}

impl Lorenz96 {
    /// `variables` (≥ 4) on a ring, forcing F, `steps` RK4 steps of `dt` per interval.
    pub fn new(variables: usize, forcing: f64, dt: f64, steps: usize) -> Result<Self> {
        if variables < 4 {
            return Err(SolverError::Parameter {
                name: "Lorenz-96 variables",
                value: variables as f64,
                reason: format!("needs at least 4 (got {variables})"),
            });
        }
        if !forcing.is_finite() {
            return Err(SolverError::Parameter {
                name: "forcing",
                value: forcing,
                reason: format!("must be finite (got {forcing})"),
            });
        }
        check_steps(steps)?;
        Ok(Lorenz96 {
            variables,
            forcing,
            dt: positive("dt", dt)?,
            steps,
        })
    }

    /// The Sakov & Oke (2008) setting: 40 variables, F = 8, one RK4 step of 0.05.
    pub fn sakov2008() -> Self {
        Lorenz96::new(40, 8.0, 0.05, 1).expect("valid constants")
    }

    /// Tendency dx/dt.
    pub fn tendency(&self, x: &[f64], out: &mut [f64]) {
        let n = self.variables;
        for i in 0..n {
            let ip1 = (i + 1) % n;
            let im1 = (i + n - 1) % n;
            let im2 = (i + n - 2) % n;
            out[i] = (x[ip1] - x[im2]) * x[im1] - x[i] + self.forcing;
        }
    }

    fn rk4_step(&self, x: &mut [f64], w: &mut Lorenz96Workspace) {
        let h = self.dt;
        self.tendency(x, &mut w.k1);
        for i in 0..x.len() {
            w.stage[i] = x[i] + 0.5 * h * w.k1[i];
        }
        self.tendency(&w.stage, &mut w.k2);
        for i in 0..x.len() {
            w.stage[i] = x[i] + 0.5 * h * w.k2[i];
        }
        self.tendency(&w.stage, &mut w.k3);
        for i in 0..x.len() {
            w.stage[i] = x[i] + h * w.k3[i];
        }
        self.tendency(&w.stage, &mut w.k4);
        for i in 0..x.len() {
            x[i] += h / 6.0 * (w.k1[i] + 2.0 * (w.k2[i] + w.k3[i]) + w.k4[i]);
        }
    }
}

impl Model for Lorenz96 {
    type Workspace = Lorenz96Workspace;

    fn state_size(&self) -> usize {
        self.variables
    }

    fn workspace(&self) -> Lorenz96Workspace {
        let zeros = vec![0.0; self.variables];
        Lorenz96Workspace {
            k1: zeros.clone(),
            k2: zeros.clone(),
            k3: zeros.clone(),
            k4: zeros.clone(),
            stage: zeros,
        }
    }

    fn advance(&self, state: &mut [f64], workspace: &mut Lorenz96Workspace) -> Result<()> {
        if state.len() != self.variables {
            return Err(SolverError::Length {
                what: "Lorenz-96 state",
                expected: self.variables,
                got: state.len(),
            });
        }
        for _ in 0..self.steps {
            self.rk4_step(state, workspace);
        }
        finite_forecast(state)
    }

    fn interval(&self) -> f64 {
        self.steps as f64 * self.dt
    }
}
