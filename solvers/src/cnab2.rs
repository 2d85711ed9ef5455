//! CNAB2: Crank–Nicolson on L, second-order Adams–Bashforth on N (the imperfect model of the
//! KS paper):
//!
//! (1 − hL/2) u^{n+1} = (1 + hL/2) u^n + h (3/2 N(u^n) − 1/2 N(u^{n−1})).

use crate::error::{Result, SolverError};
use crate::ks::{check_dt, KsModel};
use crate::modes::Modes;
use crate::real_fft::{check_lengths, for_each_pair, forward_pair, PairKernel};
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
    /// growth = (1 + hL/2)/(1 − hL/2) and forcing = h d/(1 − hL/2). A step evaluates only F̂ —
    /// no derivative or dealiasing pass — and finishes its forward transform in the same loop
    /// over mode pairs that updates v ([`FluxUpdate`]). Per f64 lane, not complex: growth is
    /// repeated on both lanes, forcing held as (−c, +c), since (i y)_Re = −y_Im.
    Flux {
        growth: Vec<Complex64>,
        forcing: Vec<Complex64>,
    },
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
    /// The packed spectrum of F(u^n), before the forward pair map (flux form).
    packed: Vec<Complex64>,
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
                    .map(|(i, e)| Complex64::new((i * e).re, (i * e).re))
                    .collect(),
                forcing: implicit
                    .iter()
                    .zip(&d)
                    .map(|(i, d)| Complex64::new(-dt * d * i.re, dt * d * i.re))
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
            n_previous: zero.clone(),
            packed: zero,
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
        next.copy_from_slice(current);
        match self.coefficients {
            Coefficients::General { .. } => {
                self.evaluate(current, Which::Now);
                self.combine(next);
            }
            Coefficients::Flux { .. } => self.flux_update(next, true),
        }
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
            Coefficients::Flux { .. } => self.model.flux(v, out),
        }
    }

    /// The general form's update of `v` from `n_now` and `n_previous`.
    #[inline(always)]
    fn combine(&self, v: &mut [Complex64]) {
        if let Coefficients::General { implicit, explicit } = &self.coefficients {
            let (now, previous) = (&self.n_now, &self.n_previous);
            let h = self.dt;
            for j in 0..v.len() {
                let forcing = 1.5 * now[j] - 0.5 * previous[j];
                v[j] = implicit[j] * (explicit[j] * v[j] + h * forcing);
            }
        }
    }

    /// The flux form's step of `v`: F̂(v) into `n_now`, and v updated with F̂⁻ = `n_previous`
    /// (or F̂(v) itself without a previous one), in one loop with the forward pair map.
    #[inline(always)]
    fn flux_update(&mut self, v: &mut [Complex64], has_previous: bool) {
        let Coefficients::Flux { growth, forcing } = &self.coefficients else {
            return;
        };
        let half = self.model.points() / 2;
        self.model.flux_packed(v, &mut self.packed);
        let (_, twiddles) = self.model.packed_work();
        for_each_pair(
            half,
            FluxUpdate {
                growth,
                forcing,
                packed: &self.packed,
                now: &mut self.n_now,
                previous: &self.n_previous,
                has_previous,
                v,
                forward_twiddles: &twiddles.forward,
            },
        );
    }
}

/// The flux form's update over mode pairs: F̂ from the packed spectrum (forward pair map), kept
/// as `now`, and v⁺ = growth ⊙ v + i forcing ⊙ (3/2 F̂ − 1/2 F̂⁻).
struct FluxUpdate<'a> {
    growth: &'a [Complex64],
    forcing: &'a [Complex64],
    packed: &'a [Complex64],
    now: &'a mut [Complex64],
    previous: &'a [Complex64],
    has_previous: bool,
    v: &'a mut [Complex64],
    forward_twiddles: &'a [Complex64],
}

impl FluxUpdate<'_> {
    /// # Safety
    /// j + W <= M + 1, with the lengths checked by `check_lengths`.
    #[inline(always)]
    unsafe fn modes<V: Modes>(&mut self, j: usize, flux: V) {
        flux.store(self.now, j);
        let previous = if self.has_previous {
            V::load(self.previous, j)
        } else {
            flux
        };
        let extrapolated = flux.mul(V::splat(1.5)).sub(previous.mul(V::splat(0.5)));
        V::load(self.growth, j)
            .mul(V::load(self.v, j))
            .add(V::load(self.forcing, j).mul(extrapolated.swap()))
            .store(self.v, j);
    }
}

impl PairKernel for FluxUpdate<'_> {
    #[inline(always)]
    fn check_lengths(&self, half: usize) {
        let spectra = [
            self.growth,
            self.forcing,
            self.packed,
            &*self.now,
            self.previous,
            &*self.v,
        ];
        check_lengths(&spectra, &[self.forward_twiddles], half);
    }

    #[inline(always)]
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize) {
        let (flux_left, flux_right) = forward_pair(
            V::load(self.packed, left),
            V::load(self.packed, right),
            V::load(self.forward_twiddles, left),
        );
        self.modes(left, flux_left);
        // The middle mode is its own mirror: one update.
        if left != right {
            self.modes(right, flux_right);
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
        match self.coefficients {
            Coefficients::General { .. } => {
                self.evaluate(v, Which::Now);
                if !self.has_previous {
                    self.n_previous.copy_from_slice(&self.n_now);
                }
                self.combine(v);
            }
            Coefficients::Flux { .. } => self.flux_update(v, self.has_previous),
        }
        std::mem::swap(&mut self.n_now, &mut self.n_previous);
        self.has_previous = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ks::test_cases::{relative_difference, standard_case};

    #[test]
    fn flux_form_steps_and_forecasts_match_the_general_form() {
        use crate::real_fft::{available_paths, with_path};
        for path in available_paths() {
            for (points, dealias) in [(128, true), (128, false), (40, false)] {
                let (model, v0) = standard_case(points, dealias);
                let mut flux = Cnab2::build(model.clone(), 0.02, true).unwrap();
                let mut general = Cnab2::build(model, 0.02, false).unwrap();
                assert!(matches!(flux.coefficients, Coefficients::Flux { .. }));
                assert!(matches!(general.coefficients, Coefficients::General { .. }));
                let (mut v, mut w) = (v0.clone(), v0.clone());
                let (mut next_flux, mut next_general) = (v0.clone(), v0.clone());
                with_path(path, || {
                    for _ in 0..500 {
                        flux.step(&mut v);
                        general.step(&mut w);
                    }
                    flux.forecast(&v0, &v, &mut next_flux);
                    general.forecast(&v0, &v, &mut next_general);
                });
                let case = format!("{path:?}, N = {points}, dealias {dealias}");
                // Same arithmetic in another order: round-off over 500 chaotic steps.
                assert!(relative_difference(&v, &w) < 1e-11, "{case}");
                assert!(
                    relative_difference(&next_flux, &next_general) < 1e-13,
                    "{case}"
                );
            }
        }
    }
}
