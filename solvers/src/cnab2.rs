//! CNAB2: Crank–Nicolson on L, second-order Adams–Bashforth on N (the imperfect model of the
//! KS paper):
//!
//! (1 − hL/2) u^{n+1} = (1 + hL/2) u^n + h (3/2 N(u^n) − 1/2 N(u^{n−1})).

use crate::error::{Result, SolverError};
use crate::ks::{check_dt, KsModel};
use crate::stepper::Stepper;
use num_complex::Complex64;

/// The per-mode factors of a step.
#[derive(Clone)]
enum Coefficients {
    /// v⁺ = implicit ⊙ (explicit ⊙ v + h (3/2 N − 1/2 N⁻)), for any L and N.
    General {
        /// 1 / (1 − hL/2)
        implicit: Vec<Complex64>,
        /// 1 + hL/2
        explicit: Vec<Complex64>,
    },
    /// Real L and a nonlinear part that is one flux derivative, N̂ = i d ⊙ F̂ (see
    /// [`KsModel::flux_derivative`]): v⁺ = growth ⊙ v + i forcing ⊙ (3/2 F̂ − 1/2 F̂⁻), with
    /// growth = (1 + hL/2)/(1 − hL/2) and forcing = h d/(1 − hL/2). A step evaluates only F̂:
    /// no derivative or dealiasing pass.
    Flux { growth: Vec<f64>, forcing: Vec<f64> },
}

#[derive(Clone)]
pub struct Cnab2 {
    model: KsModel,
    dt: f64,
    coefficients: Coefficients,
    /// N̂(u^n), or F̂(u^n) in the flux form.
    n_now: Vec<Complex64>,
    /// N̂(u^{n−1}), or F̂(u^{n−1}) in the flux form.
    n_previous: Vec<Complex64>,
    has_previous: bool,
}

impl Cnab2 {
    pub fn new(model: KsModel, dt: f64) -> Result<Self> {
        Self::build(model, dt, true)
    }

    /// With `fold_flux`, a flux-only model with real L gets [`Coefficients::Flux`]; without,
    /// the general form (kept for the test that compares the two).
    fn build(model: KsModel, dt: f64, fold_flux: bool) -> Result<Self> {
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
        let real = model.linear_operator().iter().all(|l| l.im == 0.0);
        let flux = model.flux_derivative().filter(|_| fold_flux && real);
        let coefficients = match flux {
            Some(d) => Coefficients::Flux {
                growth: implicit
                    .iter()
                    .zip(&explicit)
                    .map(|(i, e)| (i * e).re)
                    .collect(),
                forcing: implicit
                    .iter()
                    .zip(&d)
                    .map(|(i, d)| dt * d * i.re)
                    .collect(),
            },
            None => Coefficients::General { implicit, explicit },
        };
        let zero = vec![Complex64::new(0.0, 0.0); model.modes()];
        Ok(Cnab2 {
            model,
            dt,
            coefficients,
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
        self.evaluate(previous, Which::Previous);
        self.evaluate(current, Which::Now);
        next.copy_from_slice(current);
        self.combine(next);
    }

    /// N̂ (or F̂ in the flux form) of the state `v` into `n_now` or `n_previous`.
    #[inline(always)]
    fn evaluate(&mut self, v: &[Complex64], which: Which) {
        let out = match which {
            Which::Now => &mut self.n_now,
            Which::Previous => &mut self.n_previous,
        };
        match self.coefficients {
            Coefficients::General { .. } => self.model.nonlinear(v, out),
            Coefficients::Flux { .. } => {
                self.model.work_spectrum_mut().copy_from_slice(v);
                self.model.flux_from_work(out);
            }
        }
    }

    #[inline(always)]
    fn combine(&self, v: &mut [Complex64]) {
        let (now, previous) = (&self.n_now, &self.n_previous);
        match &self.coefficients {
            Coefficients::General { implicit, explicit } => {
                let h = self.dt;
                for j in 0..v.len() {
                    let forcing = 1.5 * now[j] - 0.5 * previous[j];
                    v[j] = implicit[j] * (explicit[j] * v[j] + h * forcing);
                }
            }
            Coefficients::Flux { growth, forcing } => {
                for j in 0..v.len() {
                    let f = 1.5 * now[j] - 0.5 * previous[j];
                    // g v + i c f
                    v[j] = Complex64::new(
                        growth[j] * v[j].re - forcing[j] * f.im,
                        growth[j] * v[j].im + forcing[j] * f.re,
                    );
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Now,
    Previous,
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
        self.evaluate(v, Which::Now);
        if !self.has_previous {
            self.n_previous.copy_from_slice(&self.n_now);
        }
        self.combine(v);
        std::mem::swap(&mut self.n_now, &mut self.n_previous);
        self.has_previous = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{medida_initial_state, KsParams};

    fn relative_difference(a: &[Complex64], b: &[Complex64]) -> f64 {
        let norm: f64 = b.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        let diff: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).norm_sqr())
            .sum::<f64>();
        diff.sqrt() / norm
    }

    #[test]
    fn flux_form_steps_and_forecasts_match_the_general_form() {
        for dealias in [true, false] {
            let mut params = KsParams::standard(100.0, 128);
            params.dealias = dealias;
            let mut model = KsModel::new(params).unwrap();
            let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
            let v0 = model.to_spectral(&u0).unwrap();
            let mut flux = Cnab2::build(model.clone(), 0.02, true).unwrap();
            let mut general = Cnab2::build(model, 0.02, false).unwrap();
            assert!(matches!(flux.coefficients, Coefficients::Flux { .. }));
            assert!(matches!(general.coefficients, Coefficients::General { .. }));
            let (mut v, mut w) = (v0.clone(), v0.clone());
            for _ in 0..500 {
                flux.step(&mut v);
                general.step(&mut w);
            }
            // Same arithmetic in another order: round-off over 500 chaotic steps.
            assert!(relative_difference(&v, &w) < 1e-11, "dealias {dealias}");
            let (mut next_flux, mut next_general) = (v0.clone(), v0.clone());
            flux.forecast(&v0, &v, &mut next_flux);
            general.forecast(&v0, &v, &mut next_general);
            assert!(relative_difference(&next_flux, &next_general) < 1e-13);
        }
    }
}
