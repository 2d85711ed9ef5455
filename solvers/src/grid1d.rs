//! Periodic 1-D grid with real FFTs ([`RealFft`]): plans built once, buffers owned, no
//! allocation in the hot calls.
//!
//! Spectra are the raw (unnormalised) forward transform `û_j = sum_n u_n e^{-2πi jn/N}` for
//! j = 0..=N/2; [`Spectral1d::inverse`] divides by N. Derivatives multiply mode j by (i k_j)^d
//! with k_j = 2πj/L; odd derivatives vanish at the Nyquist mode, which has no sign.

use crate::error::{check_finite, positive, Result, SolverError};
use crate::real_fft::{RealFft, Twiddles};
use num_complex::Complex64;
use std::f64::consts::PI;

/// Fewest points a grid may have: a fourth derivative needs several resolved modes.
pub const MIN_POINTS: usize = 8;

/// A periodic grid on `[-L/2, L/2)` with N (even) points and its real-FFT plans.
#[derive(Clone)]
pub struct Spectral1d {
    points: usize,
    length: f64,
    wavenumbers: Vec<f64>,
    fft: RealFft,
    real_work: Vec<f64>,
    complex_work: Vec<Complex64>,
}

impl Spectral1d {
    /// Plans the transforms for `points` (even, >= 8) points on a domain of `length`.
    pub fn new(points: usize, length: f64) -> Result<Self> {
        if points < MIN_POINTS || !points.is_multiple_of(2) {
            return Err(SolverError::Grid(format!(
                "points = {points}: need an even number of points, at least {MIN_POINTS}"
            )));
        }
        positive("length", length)?;
        let modes = points / 2 + 1;
        let wavenumbers = (0..modes).map(|j| 2.0 * PI * j as f64 / length).collect();
        Ok(Spectral1d {
            points,
            length,
            wavenumbers,
            fft: RealFft::new(points)?,
            real_work: vec![0.0; points],
            complex_work: vec![Complex64::new(0.0, 0.0); modes],
        })
    }

    pub fn points(&self) -> usize {
        self.points
    }

    /// Number of complex modes of a real spectrum, N/2 + 1.
    pub fn modes(&self) -> usize {
        self.points / 2 + 1
    }

    pub fn length(&self) -> f64 {
        self.length
    }

    pub fn dx(&self) -> f64 {
        self.length / self.points as f64
    }

    /// Grid coordinates x_n = -L/2 + n dx.
    pub fn coordinates(&self) -> Vec<f64> {
        (0..self.points)
            .map(|n| -0.5 * self.length + n as f64 * self.dx())
            .collect()
    }

    /// Angular wavenumbers k_j = 2πj/L, j = 0..=N/2.
    pub fn wavenumbers(&self) -> &[f64] {
        &self.wavenumbers
    }

    /// The spectral multiplier (i k_j)^order of a derivative, zero at Nyquist for odd orders.
    pub fn derivative_factor(&self, mode: usize, order: u32) -> Complex64 {
        if order == 0 {
            return Complex64::new(1.0, 0.0);
        }
        if mode == self.points / 2 && order % 2 == 1 {
            return Complex64::new(0.0, 0.0);
        }
        Complex64::new(0.0, self.wavenumbers[mode]).powu(order)
    }

    /// Raw forward transform of a real signal.
    pub fn forward(&mut self, signal: &[f64], spectrum: &mut [Complex64]) {
        self.real_work.copy_from_slice(signal);
        self.forward_in_place(spectrum);
    }

    /// Forward transform of the grid's own real work buffer (filled by the caller through
    /// [`Spectral1d::real_work_mut`]); avoids one copy in hot loops.
    pub fn forward_in_place(&mut self, spectrum: &mut [Complex64]) {
        self.fft.forward(&mut self.real_work, spectrum);
    }

    /// Mutable access to the real buffer that [`Spectral1d::forward_in_place`] transforms.
    pub fn real_work_mut(&mut self) -> &mut [f64] {
        &mut self.real_work
    }

    /// Inverse transform, normalised so that `inverse(forward(u)) == u`.
    pub fn inverse(&mut self, spectrum: &[Complex64], signal: &mut [f64]) {
        let scale = 1.0 / self.points as f64;
        for (w, s) in self.complex_work.iter_mut().zip(spectrum) {
            *w = s * scale;
        }
        self.inverse_work_unnormalised(signal);
    }

    /// Inverse transform of `factor(j) * spectrum_j`, normalised, without a temporary.
    pub fn inverse_scaled(
        &mut self,
        spectrum: &[Complex64],
        factor: &[Complex64],
        signal: &mut [f64],
    ) {
        let scale = 1.0 / self.points as f64;
        for ((w, s), f) in self.complex_work.iter_mut().zip(spectrum).zip(factor) {
            *w = s * f * scale;
        }
        self.inverse_work_unnormalised(signal);
    }

    /// Inverse transform without the 1/N: returns N·u. Hot loops fold the 1/N into their
    /// own coefficients and save a pass over the spectrum.
    pub fn inverse_unnormalised(&mut self, spectrum: &[Complex64], signal: &mut [f64]) {
        self.complex_work.copy_from_slice(spectrum);
        self.inverse_work_unnormalised(signal);
    }

    /// Inverse transform, without the 1/N, of the grid's own complex work buffer. A real
    /// signal has real DC and Nyquist coefficients: their imaginary parts (round-off) are
    /// ignored.
    fn inverse_work_unnormalised(&mut self, signal: &mut [f64]) {
        self.fft.inverse(&mut self.complex_work, signal);
    }

    /// The complex work buffer and the pair maps' twiddles, for fused loops that write the
    /// packed input of [`Spectral1d::inverse_packed_work`] themselves.
    pub(crate) fn packed_work(&mut self) -> (&mut [Complex64], &Twiddles) {
        (&mut self.complex_work, self.fft.twiddles())
    }

    /// The complex half of the inverse transform on the work buffer, whose first N/2 values
    /// are already through the inverse pair map: N·u into `signal`.
    pub(crate) fn inverse_packed_work(&mut self, signal: &mut [f64]) {
        self.fft.inverse_packed(&mut self.complex_work, signal);
    }

    /// The complex half of the forward transform of the real work buffer: the packed
    /// spectrum Z (N/2 + 1 values, the last a copy of the first) for a fused forward pair map.
    pub(crate) fn forward_packed_work(&mut self, packed: &mut [Complex64]) {
        self.fft.forward_packed(&mut self.real_work, packed);
    }

    /// Spectral derivative of any order of a real periodic signal (exact for trigonometric
    /// polynomials below Nyquist).
    pub fn derivative(&mut self, signal: &[f64], order: u32, out: &mut [f64]) -> Result<()> {
        self.check_len("output", out.len())?;
        let mut fields = self.derivatives(signal, &[order])?;
        out.copy_from_slice(&fields.pop().expect("one order asked"));
        Ok(())
    }

    /// Spectral derivatives of the given orders: one forward transform, one inverse per order.
    pub fn derivatives(&mut self, signal: &[f64], orders: &[u32]) -> Result<Vec<Vec<f64>>> {
        self.check_len("signal", signal.len())?;
        check_finite(signal)?;
        let mut spectrum = vec![Complex64::new(0.0, 0.0); self.modes()];
        self.forward(signal, &mut spectrum);
        let mut factors = vec![Complex64::new(0.0, 0.0); self.modes()];
        let mut fields = Vec::with_capacity(orders.len());
        for &order in orders {
            for (j, f) in factors.iter_mut().enumerate() {
                *f = self.derivative_factor(j, order);
            }
            let mut field = vec![0.0; self.points];
            self.inverse_scaled(&spectrum, &factors, &mut field);
            fields.push(field);
        }
        Ok(fields)
    }

    pub(crate) fn check_len(&self, what: &'static str, got: usize) -> Result<()> {
        if got == self.points {
            Ok(())
        } else {
            Err(SolverError::Length {
                what,
                expected: self.points,
                got,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// d^order/dx^order of sin(k1 x) + 0.5 cos(k2 x), using d^n sin(kx + φ) = k^n sin(kx + φ + nπ/2).
    fn trig(x: f64, k1: f64, k2: f64, order: u32) -> f64 {
        let shift = order as f64 * PI / 2.0;
        k1.powi(order as i32) * (k1 * x + shift).sin()
            + 0.5 * k2.powi(order as i32) * (k2 * x + PI / 2.0 + shift).sin()
    }

    #[test]
    fn spectral_derivatives_are_exact_on_trigonometric_polynomials() {
        let length = 100.0;
        let mut grid = Spectral1d::new(128, length).unwrap();
        let x = grid.coordinates();
        let k1 = 2.0 * PI * 3.0 / length;
        // A high mode keeps the amplified round-off of the top modes, (k_max/k2)^order, small.
        let k2 = 2.0 * PI * 40.0 / length;
        let u: Vec<f64> = x.iter().map(|&x| trig(x, k1, k2, 0)).collect();
        let mut du = vec![0.0; 128];
        for order in 0..=6 {
            grid.derivative(&u, order, &mut du).unwrap();
            let scale = k2.powi(order as i32).max(1.0);
            for (n, &x) in x.iter().enumerate() {
                let exact = trig(x, k1, k2, order);
                // Round-off relative to the largest amplitude of this derivative.
                assert!(
                    (du[n] - exact).abs() <= 1e-12 * scale,
                    "order {order}: {} vs {exact}",
                    du[n]
                );
            }
        }
    }

    #[test]
    fn bad_grids_are_errors() {
        assert!(Spectral1d::new(6, 1.0).is_err());
        assert!(Spectral1d::new(101, 1.0).is_err());
        assert!(Spectral1d::new(64, 0.0).is_err());
        assert!(Spectral1d::new(64, f64::NAN).is_err());
    }
}
