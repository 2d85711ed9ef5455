//! Row maps: the linear operations applied alike to the increment and to every library
//! column before they are stacked (exact for the coefficients of g = Θc, medida.md):
//! the model's one-step propagator (KS: φ(dt·L); QG: the implicit hyperviscous damping),
//! projection onto the Fourier modes above the noise floor or a low-pass, the edge cut, and
//! thinning of the rows.

use crate::error::{MedidaError, Result};
use crate::solvers::{Spectral1d, Spectral2d};
use ndarray::Array2;
use num_complex::Complex64;

/// φ(z) = (e^z − 1)/z, with its Taylor series near 0.
pub fn phi1(z: Complex64) -> Complex64 {
    if z.norm() < 1e-3 {
        1.0 + z / 2.0 + z * z / 6.0 + z * z * z / 24.0
    } else {
        (z.exp() - 1.0) / z
    }
}

/// Applies a diagonal spectral multiplier to every column of a matrix (points × columns).
pub fn apply_multiplier(
    grid: &mut Spectral1d,
    multiplier: &[Complex64],
    columns: &mut Array2<f64>,
) {
    let points = grid.points();
    let mut column = vec![0.0; points];
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    for mut col in columns.columns_mut() {
        column.iter_mut().zip(col.iter()).for_each(|(c, v)| *c = *v);
        grid.forward(&column, &mut spectrum);
        grid.inverse_scaled(&spectrum, multiplier, &mut column);
        col.iter_mut().zip(&column).for_each(|(v, c)| *v = *c);
    }
}

/// The model's one-step propagator φ(dt·L) for a diagonal linear operator L.
pub fn propagator(linear_operator: &[Complex64], dt: f64) -> Vec<Complex64> {
    linear_operator.iter().map(|&l| phi1(l * dt)).collect()
}

/// Projects a signal onto Fourier modes 1..=modes, optionally after a spectral multiplier:
/// rows `[Re c_1, Im c_1, Re c_2, ...]` with c_j = 2√modes · m_j û_j/N, scaled so that the
/// rows' mean square equals the mean square of the low-passed signal (the regression's
/// threshold then reads as for pointwise rows).
pub fn project(
    grid: &mut Spectral1d,
    signal: &[f64],
    modes: usize,
    multiplier: Option<&[Complex64]>,
    spectrum: &mut [Complex64],
    out: &mut [f64],
) {
    grid.forward(signal, spectrum);
    let scale = 2.0 * (modes as f64).sqrt() / grid.points() as f64;
    for (j, (row, s)) in out
        .chunks_exact_mut(2)
        .zip(&spectrum[1..=modes])
        .enumerate()
    {
        let c = multiplier.map_or(*s, |m| s * m[j + 1]) * scale;
        row[0] = c.re;
        row[1] = c.im;
    }
}

/// Projects the target and every column (after an optional multiplier on the columns only)
/// onto modes 1..=modes; returns (rows × columns, target).
pub fn project_sample(
    grid: &mut Spectral1d,
    columns: &Array2<f64>,
    target: &[f64],
    modes: usize,
    column_multiplier: Option<&[Complex64]>,
) -> Result<(Array2<f64>, Vec<f64>)> {
    let available = grid.modes() - 2;
    if modes == 0 || modes > available {
        return Err(MedidaError::Library(format!(
            "projection onto {modes} modes: choose between 1 and {available} for {} points",
            grid.points()
        )));
    }
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    let mut projected_target = vec![0.0; 2 * modes];
    project(
        grid,
        target,
        modes,
        None,
        &mut spectrum,
        &mut projected_target,
    );
    let mut projected = Array2::zeros((2 * modes, columns.ncols()));
    let mut column = vec![0.0; grid.points()];
    let mut rows = vec![0.0; 2 * modes];
    for (j, col) in columns.columns().into_iter().enumerate() {
        column.iter_mut().zip(col).for_each(|(c, v)| *c = *v);
        project(
            grid,
            &column,
            modes,
            column_multiplier,
            &mut spectrum,
            &mut rows,
        );
        projected
            .column_mut(j)
            .assign(&ndarray::ArrayView1::from(&rows[..]));
    }
    Ok((projected, projected_target))
}

/// Standard deviation of a field.
pub fn std_of(u: &[f64]) -> f64 {
    let mean = u.iter().sum::<f64>() / u.len() as f64;
    (u.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / u.len() as f64).sqrt()
}

/// Zeroes all Fourier modes above `modes` (a sharp low-pass).
pub fn low_pass(grid: &mut Spectral1d, u: &mut [f64], modes: usize) {
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    grid.forward(u, &mut spectrum);
    for s in spectrum.iter_mut().skip(modes + 1) {
        *s = Complex64::new(0.0, 0.0);
    }
    grid.inverse(&spectrum, u);
}

/// The number of modes whose observed power stands clearly (10×) above the noise floor
/// E|ε̂_j|² = N σ² g_j, σ = noise·std(u), averaged over the samples; g_j = 1 for white noise
/// on every grid point, or the noise gain of the interpolator that made the fields from
/// sensors ([`crate::observe::spectral_1d::SpectralLeastSquares::noise_gain`]), mode by mode.
pub fn noise_floor_modes(
    grid: &mut Spectral1d,
    observed: &[Vec<f64>],
    noise: f64,
    gain: Option<&[f64]>,
) -> usize {
    let n = grid.points();
    let mut power = vec![0.0; grid.modes()];
    let mut floor = 0.0;
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    for u in observed {
        grid.forward(u, &mut spectrum);
        for (p, s) in power.iter_mut().zip(&spectrum) {
            *p += s.norm_sqr();
        }
        // The observation's std includes the noise: σ_u² ≈ σ_true² (1 + noise²).
        let sigma = noise * std_of(u) / (1.0 + noise * noise).sqrt();
        floor += n as f64 * sigma * sigma;
    }
    let last = grid.modes() - 2;
    let gain_at = |j: usize| gain.map_or(1.0, |g| g.get(j).copied().unwrap_or(f64::INFINITY));
    let first_below = (1..=last)
        .find(|&j| power[j] < 10.0 * floor * gain_at(j))
        .unwrap_or(last + 1);
    (first_below - 1).max(1)
}

/// The disc low-pass |K| ≤ `cutoff` on a 2-D grid, as a per-mode multiplier of one layer.
pub fn disc_filter(grid: &Spectral2d, cutoff: f64) -> Vec<f64> {
    let kx = grid.kx();
    (0..grid.modes())
        .map(|m| {
            let k2 = grid.wavenumber_squared(m / kx, m % kx);
            if k2 <= cutoff * cutoff {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Where the rows of a 2-D field come from: `edge` points cut from every edge, then every
/// `stride[0]`-th point in x and `stride[1]`-th in y.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeCut {
    pub edge: usize,
    pub stride: [usize; 2],
}

impl EdgeCut {
    /// Rows per field of an nx × ny grid.
    pub fn rows(&self, nx: usize, ny: usize) -> usize {
        let [sx, sy] = self.stride;
        (nx - 2 * self.edge).div_ceil(sx) * (ny - 2 * self.edge).div_ceil(sy)
    }

    /// The kept points of an ny × nx field stored row by row.
    pub fn apply(&self, nx: usize, ny: usize, field: &[f64]) -> Vec<f64> {
        let (c, [sx, sy]) = (self.edge, self.stride);
        (c..ny - c)
            .step_by(sy)
            .flat_map(|j| {
                field[j * nx + c..j * nx + nx - c]
                    .iter()
                    .step_by(sx)
                    .copied()
            })
            .collect()
    }

    /// The stride for fields low-passed to |K| ≤ `cutoff`: grid steps per π/cutoff, so the
    /// rows' errors are close to independent, as the RVM's noise model assumes.
    pub fn nyquist_stride(grid: &Spectral2d, cutoff: f64) -> [usize; 2] {
        let spacing = std::f64::consts::PI / cutoff;
        let dx = grid.lx() / grid.nx() as f64;
        let dy = grid.ly() / grid.ny() as f64;
        [
            ((spacing / dx).floor() as usize).max(1),
            ((spacing / dy).floor() as usize).max(1),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::terms_1d::{Derivatives, TermLibrary};

    #[test]
    fn projection_is_a_linear_filter_on_both_sides() {
        // If g = Θ c pointwise, the projected rows satisfy the same relation exactly.
        let mut grid = Spectral1d::new(64, 10.0).unwrap();
        let x = grid.coordinates();
        let u: Vec<f64> = x
            .iter()
            .map(|x| (0.6 * x).sin() + 0.3 * (1.2 * x).cos())
            .collect();
        let lib = TermLibrary::polynomial(2, 2, false, Derivatives::Spectral).unwrap();
        let cols = lib.evaluate(&mut grid, &u).unwrap();
        let c: Vec<f64> = (0..lib.len()).map(|j| (j as f64 - 3.0) * 0.25).collect();
        let g: Vec<f64> = (0..64)
            .map(|n| (0..lib.len()).map(|j| cols[[n, j]] * c[j]).sum())
            .collect();
        let (rows, target) = project_sample(&mut grid, &cols, &g, 10, None).unwrap();
        for r in 0..rows.nrows() {
            let fitted: f64 = (0..lib.len()).map(|j| rows[[r, j]] * c[j]).sum();
            assert!((fitted - target[r]).abs() < 1e-12);
        }
    }
}
