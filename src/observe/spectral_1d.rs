//! From sparse observations to a field on the whole periodic grid: spectral least squares.
//! The field is fitted by the K lowest Fourier modes, u(x) = a₀ + Σₙ aₙ cos kₙx + bₙ sin kₙx,
//! through the observed points (any set: every k-th point or scattered); exact for fields
//! band-limited to K modes when the points determine them, and a low-pass otherwise.

use crate::error::{MedidaError, Result};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use std::f64::consts::PI;

pub struct SpectralLeastSquares {
    modes: usize,
    indices: Vec<usize>,
    /// Basis functions at every grid point (points × (2K + 1)).
    basis_on_grid: DMatrix<f64>,
    /// Basis at the observed points (observations × (2K + 1)).
    basis_observed: DMatrix<f64>,
    normal: Cholesky<f64, Dyn>,
}

impl SpectralLeastSquares {
    /// Fits `modes` Fourier modes through the grid points `indices` of a periodic grid of
    /// `points` points on [−L/2, L/2).
    pub fn new(points: usize, length: f64, indices: &[usize], modes: usize) -> Result<Self> {
        if let Some(&i) = indices.iter().find(|&&i| i >= points) {
            return Err(MedidaError::Config(format!(
                "observed point {i} is outside the grid of {points} points"
            )));
        }
        let unknowns = 2 * modes + 1;
        if indices.len() < unknowns || 2 * modes >= points {
            return Err(MedidaError::Config(format!(
                "{} observed points cannot determine {modes} Fourier modes ({unknowns} unknowns) on {points} grid points",
                indices.len()
            )));
        }
        let basis = |i: usize, column: usize| {
            let x = -length / 2.0 + length * i as f64 / points as f64;
            match column {
                0 => 1.0,
                c if c % 2 == 1 => (2.0 * PI * c.div_ceil(2) as f64 * x / length).cos(),
                c => (2.0 * PI * (c / 2) as f64 * x / length).sin(),
            }
        };
        let basis_on_grid = DMatrix::from_fn(points, unknowns, basis);
        let basis_observed = DMatrix::from_fn(indices.len(), unknowns, |r, c| basis(indices[r], c));
        let normal =
            Cholesky::new(basis_observed.transpose() * &basis_observed).ok_or_else(|| {
                MedidaError::Config(format!(
                    "the {} observed points do not determine {modes} Fourier modes (singular fit)",
                    indices.len()
                ))
            })?;
        Ok(SpectralLeastSquares {
            modes,
            indices: indices.to_vec(),
            basis_on_grid,
            basis_observed,
            normal,
        })
    }

    pub fn modes(&self) -> usize {
        self.modes
    }

    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// How much the fit amplifies white noise at the sensors, per Fourier mode j = 0..=K:
    /// the power of mode j of the fitted field per unit noise variance, relative to that of
    /// white noise observed at every one of the N grid points (1 for a full grid). From the
    /// covariance σ² (BᵀB)⁻¹ of the fitted coefficients: |û_j|² = (N/2)² (a_j² + b_j²).
    pub fn noise_gain(&self, points: usize) -> Vec<f64> {
        let inverse = self.normal.inverse();
        let n = points as f64;
        (0..=self.modes)
            .map(|j| match j {
                0 => n * inverse[(0, 0)],
                j => n / 4.0 * (inverse[(2 * j - 1, 2 * j - 1)] + inverse[(2 * j, 2 * j)]),
            })
            .collect()
    }

    /// The field on the whole grid from its values at the observed points.
    pub fn fit(&self, values: &[f64]) -> Vec<f64> {
        let y = DVector::from_column_slice(values);
        let coefficients = self.normal.solve(&(self.basis_observed.transpose() * y));
        (&self.basis_on_grid * coefficients).as_slice().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_limited_fields_are_recovered_exactly_from_scattered_points() {
        let (points, length) = (256, 30.0);
        let field = |i: usize| {
            let x = -length / 2.0 + length * i as f64 / points as f64;
            0.3 + (2.0 * PI * 3.0 * x / length).sin() - 0.5 * (2.0 * PI * 11.0 * x / length).cos()
        };
        // 61 scattered points (a fixed pseudo-random pick) and 12 modes.
        let indices: Vec<usize> = (0..61).map(|j| (j * 97 + 13) % points).collect();
        let fit = SpectralLeastSquares::new(points, length, &indices, 12).unwrap();
        let values: Vec<f64> = indices.iter().map(|&i| field(i)).collect();
        let full = fit.fit(&values);
        for (i, u) in full.iter().enumerate() {
            assert!(
                (u - field(i)).abs() < 1e-10,
                "point {i}: {u} vs {}",
                field(i)
            );
        }
    }

    #[test]
    fn noise_gain_is_one_on_the_full_grid_and_matches_monte_carlo_on_scattered_points() {
        use crate::random::{standard_normals, stream, Purpose};
        use crate::solvers::Spectral1d;
        let (points, length, modes) = (128, 10.0, 20);
        let all: Vec<usize> = (0..points).collect();
        let full = SpectralLeastSquares::new(points, length, &all, modes).unwrap();
        for g in &full.noise_gain(points)[1..] {
            assert!((g - 1.0).abs() < 1e-9, "{g}");
        }
        // Scattered points: the gain predicts the mean power of fitted pure noise per mode.
        let indices: Vec<usize> = (0..60).map(|j| (j * 37 + 5) % points).collect();
        let fit = SpectralLeastSquares::new(points, length, &indices, modes).unwrap();
        let gain = fit.noise_gain(points);
        let mut grid = Spectral1d::new(points, length).unwrap();
        let mut power = vec![0.0; modes + 1];
        let mut spectrum = vec![num_complex::Complex64::new(0.0, 0.0); grid.modes()];
        let draws = 2000;
        for d in 0..draws {
            let noise = standard_normals(&mut stream(1, d, 0, Purpose::ObservationNoise), 60);
            grid.forward(&fit.fit(&noise), &mut spectrum);
            for (p, s) in power.iter_mut().zip(&spectrum) {
                *p += s.norm_sqr() / (draws as f64 * points as f64);
            }
        }
        for j in 1..=modes {
            // 2000 draws of a χ² with 2 degrees of freedom: a few per cent of sampling error.
            assert!(
                (power[j] / gain[j] - 1.0).abs() < 0.1,
                "mode {j}: {} vs {}",
                power[j],
                gain[j]
            );
        }
    }

    #[test]
    fn too_few_points_is_an_error() {
        let err = SpectralLeastSquares::new(64, 10.0, &[0, 5, 9], 4)
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot determine"), "{err}");
    }
}
