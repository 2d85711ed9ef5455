//! Classical fourth-order Runge–Kutta on the full right-hand side L u + N(u).
//!
//! Explicit: stable only while |dt L| stays inside RK4's stability region (|dt L| ≲ 2.8 on the
//! negative axis), so with stiff hyper-diffusion it needs a small dt or a coarse grid. A
//! forecast that leaves the region blows up and is reported as non-finite.

use crate::error::Result;
use crate::ks::{check_dt, KsModel};
use crate::stepper::Stepper;
use num_complex::Complex64;

#[derive(Clone)]
pub struct Rk4 {
    model: KsModel,
    dt: f64,
    k1: Vec<Complex64>,
    k2: Vec<Complex64>,
    k3: Vec<Complex64>,
    k4: Vec<Complex64>,
    stage: Vec<Complex64>,
}

impl Rk4 {
    pub fn new(model: KsModel, dt: f64) -> Result<Self> {
        let dt = check_dt(dt)?;
        let zero = vec![Complex64::new(0.0, 0.0); model.modes()];
        Ok(Rk4 {
            model,
            dt,
            k1: zero.clone(),
            k2: zero.clone(),
            k3: zero.clone(),
            k4: zero.clone(),
            stage: zero,
        })
    }

    pub fn model(&self) -> &KsModel {
        &self.model
    }
}

impl Stepper for Rk4 {
    fn dt(&self) -> f64 {
        self.dt
    }

    /// Advances the spectrum `v` by one step, in place.
    fn step(&mut self, v: &mut [Complex64]) {
        let h = self.dt;
        self.model.rhs(v, &mut self.k1);
        for j in 0..v.len() {
            self.stage[j] = v[j] + 0.5 * h * self.k1[j];
        }
        self.model.rhs(&self.stage, &mut self.k2);
        for j in 0..v.len() {
            self.stage[j] = v[j] + 0.5 * h * self.k2[j];
        }
        self.model.rhs(&self.stage, &mut self.k3);
        for j in 0..v.len() {
            self.stage[j] = v[j] + h * self.k3[j];
        }
        self.model.rhs(&self.stage, &mut self.k4);
        for j in 0..v.len() {
            v[j] += h / 6.0 * (self.k1[j] + 2.0 * (self.k2[j] + self.k3[j]) + self.k4[j]);
        }
    }
}
