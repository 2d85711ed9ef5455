//! ETDRK4 (Cox & Matthews 2002; Kassam & Trefethen 2005) for `u_t = L u + N(u)`, L diagonal:
//!
//! a = E2 v + Q N(v),  b = E2 v + Q N(a),  c = E2 a + Q (2N(b) − N(v)),
//! v⁺ = E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c),
//!
//! with E = e^{hL}, E2 = e^{hL/2} and the φ-function coefficients Q, f1, f2, f3 evaluated by
//! the contour-integral mean over `CONTOUR_POINTS` points on a unit circle around each hL.

use crate::error::{Result, SolverError};
use crate::ks::{check_dt, spectrum_is_finite, KsModel};
use num_complex::Complex64;
use std::f64::consts::PI;

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

/// An ETDRK4 integrator that owns its model and all stage buffers.
#[derive(Clone)]
pub struct Etdrk4 {
    model: KsModel,
    dt: f64,
    e: Vec<Complex64>,
    e2: Vec<Complex64>,
    q: Vec<Complex64>,
    f1: Vec<Complex64>,
    f2: Vec<Complex64>,
    f3: Vec<Complex64>,
    nv: Vec<Complex64>,
    a: Vec<Complex64>,
    na: Vec<Complex64>,
    b: Vec<Complex64>,
    nb: Vec<Complex64>,
    c: Vec<Complex64>,
    nc: Vec<Complex64>,
}

impl Etdrk4 {
    pub fn new(model: KsModel, dt: f64) -> Result<Self> {
        let dt = check_dt(dt)?;
        let modes = model.modes();
        let zero = vec![Complex64::new(0.0, 0.0); modes];
        let (mut e, mut e2) = (zero.clone(), zero.clone());
        let (mut q, mut f1, mut f2, mut f3) = (zero.clone(), zero.clone(), zero.clone(), zero.clone());
        for (j, &l) in model.linear_operator().iter().enumerate() {
            let z = l * dt;
            if !(z.re.is_finite() && z.im.is_finite()) || z.re > 700.0 {
                return Err(SolverError::Parameter {
                    name: "dt",
                    value: dt,
                    reason: format!("dt * L = {z} overflows the exponential at mode {j}"),
                });
            }
            e[j] = z.exp();
            e2[j] = (z / 2.0).exp();
            [q[j], f1[j], f2[j], f3[j]] = etdrk4_coefficients(dt, z);
        }
        Ok(Etdrk4 {
            model,
            dt,
            e,
            e2,
            q,
            f1,
            f2,
            f3,
            nv: zero.clone(),
            a: zero.clone(),
            na: zero.clone(),
            b: zero.clone(),
            nb: zero.clone(),
            c: zero.clone(),
            nc: zero,
        })
    }

    pub fn dt(&self) -> f64 {
        self.dt
    }

    pub fn model(&self) -> &KsModel {
        &self.model
    }

    pub fn model_mut(&mut self) -> &mut KsModel {
        &mut self.model
    }

    /// Advances the spectrum `v` by one step of dt, in place, allocating nothing.
    pub fn step(&mut self, v: &mut [Complex64]) {
        let m = &mut self.model;
        m.nonlinear(v, &mut self.nv);
        for j in 0..v.len() {
            self.a[j] = self.e2[j] * v[j] + self.q[j] * self.nv[j];
        }
        m.nonlinear(&self.a, &mut self.na);
        for j in 0..v.len() {
            self.b[j] = self.e2[j] * v[j] + self.q[j] * self.na[j];
        }
        m.nonlinear(&self.b, &mut self.nb);
        for j in 0..v.len() {
            self.c[j] = self.e2[j] * self.a[j] + self.q[j] * (2.0 * self.nb[j] - self.nv[j]);
        }
        m.nonlinear(&self.c, &mut self.nc);
        for j in 0..v.len() {
            v[j] = self.e[j] * v[j]
                + self.f1[j] * self.nv[j]
                + 2.0 * self.f2[j] * (self.na[j] + self.nb[j])
                + self.f3[j] * self.nc[j];
        }
    }

    /// Advances `steps` steps, checking for blow-up; `start_step` numbers the steps in errors.
    pub fn advance(&mut self, v: &mut [Complex64], steps: usize, start_step: usize) -> Result<()> {
        for s in 0..steps {
            self.step(v);
            if (s + 1) % 64 == 0 || s + 1 == steps {
                let step = start_step + s + 1;
                if !spectrum_is_finite(v) {
                    return Err(SolverError::NonFinite {
                        time: step as f64 * self.dt,
                        step,
                    });
                }
            }
        }
        Ok(())
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
                assert!((got.re - exact).abs() < 1e-13 * h, "z={z}: {got} vs {exact}");
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
