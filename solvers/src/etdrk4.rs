//! ETDRK4 (Cox & Matthews 2002; Kassam & Trefethen 2005) for `u_t = L u + N(u)`, L diagonal:
//!
//! a = E2 v + Q N(v),  b = E2 v + Q N(a),  c = E2 a + Q (2N(b) − N(v)),
//! v⁺ = E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c),
//!
//! with E = e^{hL}, E2 = e^{hL/2} and the φ-function coefficients Q, f1, f2, f3 evaluated by
//! the contour-integral mean over `CONTOUR_POINTS` points on a unit circle around each hL.

use crate::error::{Result, SolverError};
use crate::ks::{check_dt, KsModel};
use crate::modes::Modes;
use crate::real_fft::{check_lengths, for_each_pair, forward_pair, inverse_pair, PairKernel};
use crate::stepper::Stepper;
use num_complex::Complex64;
use std::f64::consts::PI;
use std::ops::Mul;

/// Points of the contour integral. Kassam & Trefethen used 32 in the upper half plane (64 on
/// the circle) for real L; 64 on the full circle also covers complex L (odd derivatives).
pub const CONTOUR_POINTS: usize = 64;

/// φ-function coefficients of ETDRK4 for one value z = hL, by the contour mean.
pub(crate) fn etdrk4_coefficients(h: f64, z: Complex64) -> [Complex64; 4] {
    let mut sums = [Complex64::new(0.0, 0.0); 4];
    for m in 0..CONTOUR_POINTS {
        let r = Complex64::from_polar(1.0, 2.0 * PI * (m as f64 + 0.5) / CONTOUR_POINTS as f64);
        let zr = z + r;
        let ez = zr.exp();
        let ez2 = (zr / 2.0).exp();
        let z2 = zr * zr;
        let z3 = z2 * zr;
        sums[0] += (ez2 - 1.0) / zr;
        sums[1] += (-4.0 - zr + ez * (4.0 - 3.0 * zr + z2)) / z3;
        sums[2] += (2.0 + zr + ez * (zr - 2.0)) / z3;
        sums[3] += (-4.0 - 3.0 * zr - z2 + ez * (4.0 - zr)) / z3;
    }
    let scale = h / CONTOUR_POINTS as f64;
    sums.map(|s| {
        let v = s * scale;
        // Real L gives real coefficients; drop the contour's round-off imaginary part.
        if z.im == 0.0 {
            Complex64::new(v.re, 0.0)
        } else {
            v
        }
    })
}

/// The ETDRK4 coefficients per mode; real when L is real (no odd derivatives), which halves
/// the arithmetic of the stage combinations.
#[derive(Clone)]
struct Phi<T> {
    e: Vec<T>,
    e2: Vec<T>,
    q: Vec<T>,
    f1: Vec<T>,
    /// 2 f2, the weight of N(a) + N(b).
    f2_twice: Vec<T>,
    f3: Vec<T>,
}

#[derive(Clone)]
enum Coefficients {
    Real(Phi<f64>),
    Complex(Phi<Complex64>),
    /// Real L and a nonlinear part that is one flux derivative, N̂ = i d ⊙ F̂: Q, f1, f2, f3
    /// hold the products with i d, so a stage evaluates only F̂ — no derivative or dealiasing
    /// pass — and each stage is one fused loop over mode pairs (see [`Phi::step_flux`]).
    /// Per f64 lane, not complex: E and E2 repeat each mode's value on both lanes, and the
    /// others hold (−c d, +c d), since (i y)_Re = −y_Im and (i y)_Im = y_Re.
    Flux(Phi<Complex64>),
}

/// Stage buffers of one step.
#[derive(Clone)]
struct Stages {
    nv: Vec<Complex64>,
    a: Vec<Complex64>,
    na: Vec<Complex64>,
    b: Vec<Complex64>,
    nb: Vec<Complex64>,
    c: Vec<Complex64>,
    nc: Vec<Complex64>,
    /// The packed spectrum of a stage's flux, before the forward pair map (flux form).
    packed: Vec<Complex64>,
}

/// An ETDRK4 integrator that owns its model and all stage buffers.
#[derive(Clone)]
pub struct Etdrk4 {
    model: KsModel,
    dt: f64,
    coefficients: Coefficients,
    stages: Stages,
}

impl Etdrk4 {
    pub fn new(model: KsModel, dt: f64) -> Result<Self> {
        Self::build(model, dt, true)
    }

    /// With `fold_flux`, a flux-only model gets [`Coefficients::Flux`]; without, the general
    /// form (kept for the test that compares the two).
    fn build(model: KsModel, dt: f64, fold_flux: bool) -> Result<Self> {
        let dt = check_dt(dt)?;
        let modes = model.modes();
        let zero = vec![Complex64::new(0.0, 0.0); modes];
        let mut phi = Phi {
            e: zero.clone(),
            e2: zero.clone(),
            q: zero.clone(),
            f1: zero.clone(),
            f2_twice: zero.clone(),
            f3: zero.clone(),
        };
        for (j, &l) in model.linear_operator().iter().enumerate() {
            let z = l * dt;
            if !(z.re.is_finite() && z.im.is_finite()) || z.re > 700.0 {
                return Err(SolverError::Parameter {
                    name: "dt",
                    value: dt,
                    reason: format!("dt * L = {z} overflows the exponential at mode {j}"),
                });
            }
            phi.e[j] = z.exp();
            phi.e2[j] = (z / 2.0).exp();
            let [q, f1, f2, f3] = etdrk4_coefficients(dt, z);
            (phi.q[j], phi.f1[j], phi.f2_twice[j], phi.f3[j]) = (q, f1, 2.0 * f2, f3);
        }
        let real = model.linear_operator().iter().all(|l| l.im == 0.0);
        let re = |v: &Vec<Complex64>| v.iter().map(|c| c.re).collect::<Vec<f64>>();
        let flux = model.flux_derivative().filter(|_| fold_flux);
        let coefficients = if let (true, Some(d)) = (real, flux) {
            let both_lanes = |v: &Vec<Complex64>| {
                v.iter()
                    .map(|c| Complex64::new(c.re, c.re))
                    .collect::<Vec<_>>()
            };
            let times_i_d = |v: &Vec<Complex64>| {
                v.iter()
                    .zip(&d)
                    .map(|(c, d)| Complex64::new(-c.re * d, c.re * d))
                    .collect::<Vec<_>>()
            };
            Coefficients::Flux(Phi {
                e: both_lanes(&phi.e),
                e2: both_lanes(&phi.e2),
                q: times_i_d(&phi.q),
                f1: times_i_d(&phi.f1),
                f2_twice: times_i_d(&phi.f2_twice),
                f3: times_i_d(&phi.f3),
            })
        } else if real {
            Coefficients::Real(Phi {
                e: re(&phi.e),
                e2: re(&phi.e2),
                q: re(&phi.q),
                f1: re(&phi.f1),
                f2_twice: re(&phi.f2_twice),
                f3: re(&phi.f3),
            })
        } else {
            Coefficients::Complex(phi)
        };
        Ok(Etdrk4 {
            model,
            dt,
            coefficients,
            stages: Stages {
                nv: zero.clone(),
                a: zero.clone(),
                na: zero.clone(),
                b: zero.clone(),
                nb: zero.clone(),
                c: zero.clone(),
                nc: zero.clone(),
                packed: zero,
            },
        })
    }

    pub fn model(&self) -> &KsModel {
        &self.model
    }

    pub fn model_mut(&mut self) -> &mut KsModel {
        &mut self.model
    }
}

impl<T> Phi<T>
where
    T: Copy + Mul<Complex64, Output = Complex64>,
{
    #[inline(always)]
    fn step(&self, model: &mut KsModel, s: &mut Stages, v: &mut [Complex64]) {
        model.nonlinear(v, &mut s.nv);
        for ((((a, &e2), &q), &v), &nv) in
            s.a.iter_mut()
                .zip(&self.e2)
                .zip(&self.q)
                .zip(&*v)
                .zip(&s.nv)
        {
            *a = e2 * v + q * nv;
        }
        model.nonlinear(&s.a, &mut s.na);
        for ((((b, &e2), &q), &v), &na) in
            s.b.iter_mut()
                .zip(&self.e2)
                .zip(&self.q)
                .zip(&*v)
                .zip(&s.na)
        {
            *b = e2 * v + q * na;
        }
        model.nonlinear(&s.b, &mut s.nb);
        for (((((c, &e2), &q), &a), &nb), &nv) in
            s.c.iter_mut()
                .zip(&self.e2)
                .zip(&self.q)
                .zip(&s.a)
                .zip(&s.nb)
                .zip(&s.nv)
        {
            *c = e2 * a + q * (2.0 * nb - nv);
        }
        model.nonlinear(&s.c, &mut s.nc);
        for j in 0..v.len() {
            v[j] = self.e[j] * v[j]
                + self.f1[j] * s.nv[j]
                + self.f2_twice[j] * (s.na[j] + s.nb[j])
                + self.f3[j] * s.nc[j];
        }
    }
}

impl Phi<Complex64> {
    /// The step of [`Coefficients::Flux`]. Each stage is one loop over mode pairs (k, M − k)
    /// that finishes the real FFT of the stage's flux (the forward pair map), forms the next
    /// stage's spectrum, and starts its inverse transform (the inverse pair map) — instead of
    /// four passes over the spectrum. Same arithmetic as [`Phi::step`] with N̂ = i d ⊙ F̂.
    #[inline(always)]
    fn step_flux(&self, model: &mut KsModel, s: &mut Stages, v: &mut [Complex64]) {
        model.flux_packed(v, &mut s.packed);
        self.stage::<STAGE_A>(model, s, v);
        model.flux_packed_from_work(&mut s.packed);
        self.stage::<STAGE_B>(model, s, v);
        model.flux_packed_from_work(&mut s.packed);
        self.stage::<STAGE_C>(model, s, v);
        model.flux_packed_from_work(&mut s.packed);
        self.stage::<STAGE_LAST>(model, s, v);
    }

    #[inline(always)]
    fn stage<const STAGE: u8>(&self, model: &mut KsModel, s: &mut Stages, v: &mut [Complex64]) {
        let half = model.points() / 2;
        let (work, twiddles) = model.packed_work();
        for_each_pair(
            half,
            FluxStage::<STAGE> {
                e: &self.e,
                e2: &self.e2,
                q: &self.q,
                f1: &self.f1,
                f2_twice: &self.f2_twice,
                f3: &self.f3,
                packed: &s.packed,
                nv: &mut s.nv,
                a: &mut s.a,
                na: &mut s.na,
                nb: &mut s.nb,
                v,
                work,
                forward_twiddles: &twiddles.forward,
                inverse_twiddles: &twiddles.inverse,
            },
        );
    }
}

const STAGE_A: u8 = 0;
const STAGE_B: u8 = 1;
const STAGE_C: u8 = 2;
const STAGE_LAST: u8 = 3;

/// One fused stage of the flux-form step: F̂ from the packed spectrum, then
/// A: a = E2 v + Q F̂(v); B: b = E2 v + Q F̂(a); C: c = E2 a + Q (2F̂(b) − F̂(v));
/// LAST: v⁺ = E v + f1 F̂(v) + 2f2 (F̂(a) + F̂(b)) + f3 F̂(c) (Q, f's carrying i d), and the
/// inverse pair map of a, b, c into the transform's input.
struct FluxStage<'a, const STAGE: u8> {
    e: &'a [Complex64],
    e2: &'a [Complex64],
    q: &'a [Complex64],
    f1: &'a [Complex64],
    f2_twice: &'a [Complex64],
    f3: &'a [Complex64],
    packed: &'a [Complex64],
    nv: &'a mut [Complex64],
    a: &'a mut [Complex64],
    na: &'a mut [Complex64],
    nb: &'a mut [Complex64],
    v: &'a mut [Complex64],
    work: &'a mut [Complex64],
    forward_twiddles: &'a [Complex64],
    inverse_twiddles: &'a [Complex64],
}

impl<const STAGE: u8> FluxStage<'_, STAGE> {
    /// The stage at modes j..j + W, given F̂ there; returns the next stage's spectrum.
    ///
    /// # Safety
    /// j + W <= M + 1, with the lengths checked by `check_lengths`.
    #[inline(always)]
    unsafe fn modes<V: Modes>(&mut self, j: usize, flux: V) -> V {
        let at = |x: &[Complex64]| V::load(x, j);
        match STAGE {
            STAGE_A => {
                flux.store(self.nv, j);
                let a = at(self.e2).mul(at(self.v)).add(at(self.q).mul(flux.swap()));
                a.store(self.a, j);
                a
            }
            STAGE_B => {
                flux.store(self.na, j);
                at(self.e2).mul(at(self.v)).add(at(self.q).mul(flux.swap()))
            }
            STAGE_C => {
                flux.store(self.nb, j);
                let forcing = flux.add(flux).sub(at(self.nv));
                at(self.e2)
                    .mul(at(self.a))
                    .add(at(self.q).mul(forcing.swap()))
            }
            _ => {
                let next = at(self.e)
                    .mul(at(self.v))
                    .add(at(self.f1).mul(at(self.nv).swap()))
                    .add(at(self.f2_twice).mul(at(self.na).add(at(self.nb)).swap()))
                    .add(at(self.f3).mul(flux.swap()));
                next.store(self.v, j);
                next
            }
        }
    }
}

impl<const STAGE: u8> PairKernel for FluxStage<'_, STAGE> {
    #[inline(always)]
    fn check_lengths(&self, half: usize) {
        let spectra = [
            self.e,
            self.e2,
            self.q,
            self.f1,
            self.f2_twice,
            self.f3,
            self.packed,
        ];
        let stages = [
            &*self.nv,
            &*self.a,
            &*self.na,
            &*self.nb,
            &*self.v,
            &*self.work,
        ];
        check_lengths(
            &spectra,
            &[self.forward_twiddles, self.inverse_twiddles],
            half,
        );
        check_lengths(&stages, &[], half);
    }

    #[inline(always)]
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize) {
        let (flux_left, flux_right) = forward_pair(
            V::load(self.packed, left),
            V::load(self.packed, right),
            V::load(self.forward_twiddles, left),
        );
        let next_left = self.modes(left, flux_left);
        // The middle mode is its own mirror: one update.
        let next_right = if left == right {
            next_left
        } else {
            self.modes(right, flux_right)
        };
        if STAGE != STAGE_LAST {
            let (z_left, z_right) = inverse_pair(
                left,
                next_left,
                next_right,
                V::load(self.inverse_twiddles, left),
            );
            z_left.store(self.work, left);
            z_right.store(self.work, right);
        }
    }
}

impl Etdrk4 {
    #[inline(always)]
    fn step_portable(&mut self, v: &mut [Complex64]) {
        match &self.coefficients {
            Coefficients::Real(phi) => phi.step(&mut self.model, &mut self.stages, v),
            Coefficients::Complex(phi) => phi.step(&mut self.model, &mut self.stages, v),
            Coefficients::Flux(phi) => phi.step_flux(&mut self.model, &mut self.stages, v),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_avx2(&mut self, v: &mut [Complex64]) {
        self.step_portable(v)
    }
}

impl Stepper for Etdrk4 {
    fn dt(&self) -> f64 {
        self.dt
    }

    /// Advances the spectrum `v` by one step of dt, in place, allocating nothing. The stage
    /// arithmetic is compiled for AVX2+FMA as well and chosen at run time (the FFTs dispatch
    /// by themselves), so one binary is fast on new CPUs and still runs on old ones.
    fn step(&mut self, v: &mut [Complex64]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            // SAFETY: AVX2 and FMA were detected on this CPU.
            return unsafe { self.step_avx2(v) };
        }
        self.step_portable(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_match_closed_forms_where_these_are_accurate() {
        // For |z| ~ 1..10 the closed forms of Cox & Matthews are accurate to ~1e-13.
        for &z in &[-1.0f64, -3.0, -10.0, -50.0] {
            let h = 0.1;
            let [q, f1, f2, f3] = etdrk4_coefficients(h, Complex64::new(z, 0.0));
            let ez = z.exp();
            let exact_q = h * ((z / 2.0).exp() - 1.0) / z;
            let exact_f1 = h * (-4.0 - z + ez * (4.0 - 3.0 * z + z * z)) / z.powi(3);
            let exact_f2 = h * (2.0 + z + ez * (z - 2.0)) / z.powi(3);
            let exact_f3 = h * (-4.0 - 3.0 * z - z * z + ez * (4.0 - z)) / z.powi(3);
            for (got, exact) in [(q, exact_q), (f1, exact_f1), (f2, exact_f2), (f3, exact_f3)] {
                assert!(
                    (got.re - exact).abs() < 1e-13 * h,
                    "z={z}: {got} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn flux_form_steps_match_the_general_form() {
        use crate::ks::test_cases::{relative_difference, standard_case};
        use crate::real_fft::{available_paths, with_path};
        // Each loop path (one, two, four mode pairs at a time) that this CPU has; N = 40 and
        // 128 give different mixes of them.
        for path in available_paths() {
            for (points, dealias) in [(128, true), (128, false), (40, true)] {
                let (model, mut v) = standard_case(points, dealias);
                let mut flux = Etdrk4::build(model.clone(), 0.05, true).unwrap();
                let mut general = Etdrk4::build(model, 0.05, false).unwrap();
                assert!(matches!(flux.coefficients, Coefficients::Flux(_)));
                assert!(matches!(general.coefficients, Coefficients::Real(_)));
                let mut w = v.clone();
                with_path(path, || {
                    for _ in 0..200 {
                        flux.step(&mut v);
                        general.step(&mut w);
                    }
                });
                // Same arithmetic in another order: round-off over 200 chaotic steps.
                let difference = relative_difference(&v, &w);
                assert!(
                    difference < 1e-11,
                    "{path:?}, N = {points}, dealias {dealias}: {difference}"
                );
            }
        }
    }

    #[test]
    fn coefficients_at_zero_are_the_taylor_limits() {
        // φ-functions at z = 0: Q = h/2, f1 = f3 = h/6, f2 = h/6.
        let h = 1.0;
        let [q, f1, f2, f3] = etdrk4_coefficients(h, Complex64::new(0.0, 0.0));
        assert!((q.re - 0.5).abs() < 1e-14);
        for f in [f1, f2, f3] {
            assert!((f.re - 1.0 / 6.0).abs() < 1e-14, "{f}");
        }
    }
}
