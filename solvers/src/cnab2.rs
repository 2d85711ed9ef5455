//! CNAB2: Crank–Nicolson on L, second-order Adams–Bashforth on N (the imperfect model of the
//! KS paper):
//!
//! (1 − hL/2) u^{n+1} = (1 + hL/2) u^n + h (3/2 N(u^n) − 1/2 N(u^{n−1})).

use crate::error::{Result, SolverError};
use crate::ks::{check_dt, KsModel};
use crate::stepper::Stepper;
use num_complex::Complex64;

#[derive(Clone)]
pub struct Cnab2 {
    model: KsModel,
    dt: f64,
    /// 1 / (1 − hL/2)
    implicit: Vec<Complex64>,
    /// 1 + hL/2
    explicit: Vec<Complex64>,
    n_now: Vec<Complex64>,
    n_previous: Vec<Complex64>,
    has_previous: bool,
}

impl Cnab2 {
    pub fn new(model: KsModel, dt: f64) -> Result<Self> {
        let dt = check_dt(dt)?;
        let mut implicit = Vec::with_capacity(model.modes());
        let mut explicit = Vec::with_capacity(model.modes());
        for (j, &l) in model.linear_operator().iter().enumerate() {
            let denominator = 1.0 - 0.5 * dt * l;
            if denominator.norm() < 1e-12 {
                return Err(SolverError::Parameter {
                    name: "dt",
                    value: dt,
                    reason: format!("Crank–Nicolson is singular at mode {j} (1 − dt L/2 = 0)"),
                });
            }
            implicit.push(1.0 / denominator);
            explicit.push(1.0 + 0.5 * dt * l);
        }
        let zero = vec![Complex64::new(0.0, 0.0); model.modes()];
        Ok(Cnab2 {
            model,
            dt,
            implicit,
            explicit,
            n_now: zero.clone(),
            n_previous: zero,
            has_previous: false,
        })
    }

    pub fn model(&self) -> &KsModel {
        &self.model
    }

    /// Forgets the stored N(u^{n−1}); the next [`Cnab2::step`] starts with N^{n−1} = N^n.
    pub fn reset(&mut self) {
        self.has_previous = false;
    }

    /// One step from the two states u^{n−1} = `previous`, u^n = `current` into `next`.
    pub fn forecast(
        &mut self,
        previous: &[Complex64],
        current: &[Complex64],
        next: &mut [Complex64],
    ) {
        self.model.nonlinear(previous, &mut self.n_previous);
        self.model.nonlinear(current, &mut self.n_now);
        next.copy_from_slice(current);
        self.combine(next);
    }

    #[inline(always)]
    fn combine(&self, v: &mut [Complex64]) {
        let h = self.dt;
        for j in 0..v.len() {
            let forcing = 1.5 * self.n_now[j] - 0.5 * self.n_previous[j];
            v[j] = self.implicit[j] * (self.explicit[j] * v[j] + h * forcing);
        }
    }
}

impl Stepper for Cnab2 {
    fn dt(&self) -> f64 {
        self.dt
    }

    /// One step of a continuing run; the first step after construction or `reset` uses
    /// N(u^{n−1}) = N(u^n) (a first-order start, as in Gibson's benchmark).
    fn step(&mut self, v: &mut [Complex64]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            // SAFETY: AVX2 and FMA were detected on this CPU.
            return unsafe { self.step_avx2(v) };
        }
        self.step_portable(v)
    }
}

impl Cnab2 {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_avx2(&mut self, v: &mut [Complex64]) {
        self.step_portable(v)
    }

    #[inline(always)]
    fn step_portable(&mut self, v: &mut [Complex64]) {
        self.model.nonlinear(v, &mut self.n_now);
        if !self.has_previous {
            self.n_previous.copy_from_slice(&self.n_now);
        }
        self.combine(v);
        std::mem::swap(&mut self.n_now, &mut self.n_previous);
        self.has_previous = true;
    }
}
