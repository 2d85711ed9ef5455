//! From sparse, noisy sensors to fields on the whole doubly periodic QG grid. The sensors are
//! a uniformly random subset of grid points, the same for every field of a run, so every
//! interpolator factorises once and then fits all fields (layers × times × pairs) as a batch:
//!
//! - [`FourierLeastSquares`]: least squares on the Fourier modes inside a disc |K| ≤ R (plus,
//!   optionally, the zonal-mean column at every meridional wavenumber), R chosen so the fit
//!   has `ratio` real unknowns per sensor; solved by conjugate gradients on the normal
//!   equations, each iteration one inverse and one forward 2-D FFT.
//! - [`RffRidge`]: ridge regression on random Fourier features [cos 2πB·v, sin 2πB·v],
//!   B ~ N(0, σ²), v the coordinates scaled to [−π, π) — the closed-form relative of the
//!   authors' Fourier-feature network; one Cholesky of the F × F Gram matrix for all fields.
//! - [`crate::observe::mlp`]: the authors' networks themselves (with and without a Fourier-feature
//!   first layer), small enough to train on two cores.

use crate::assimilation::cholesky::Cholesky;
use crate::assimilation::gemm::product;
use crate::error::{MedidaError, Result};
use crate::observe::mlp::{Mlp, MlpSettings};
use crate::random::{stream, Purpose};
use crate::solvers::Spectral2d;
use nalgebra::DMatrix;
use num_complex::Complex64;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Which interpolator, with its settings (the `[interpolation]` section of a QG case).
#[derive(Clone, Debug, PartialEq)]
pub enum InterpolatorKind {
    /// The observed values are the field (full grids only).
    None,
    Fourier {
        ratio: f64,
        zonal_mean: bool,
    },
    Rff {
        features: usize,
        sigma: f64,
        ridge: f64,
    },
    Mlp(MlpSettings),
}

impl InterpolatorKind {
    pub fn label(&self) -> String {
        match self {
            InterpolatorKind::None => "none".into(),
            InterpolatorKind::Fourier { ratio, .. } => format!("fourier (ratio {ratio})"),
            InterpolatorKind::Rff {
                features, sigma, ..
            } => format!("rff ridge ({features} features, σ = {sigma})"),
            InterpolatorKind::Mlp(s) => s.label(),
        }
    }
}

/// Fits every field in `observed` (values at `sensors`, in order) to the whole grid.
/// Non-finite input or output is an error naming the interpolator.
pub fn interpolate(
    kind: &InterpolatorKind,
    grid: &Spectral2d,
    sensors: &[usize],
    observed: &[Vec<f64>],
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    for (f, values) in observed.iter().enumerate() {
        if values.len() != sensors.len() {
            return Err(MedidaError::Data(format!(
                "field {f}: {} values for {} sensors",
                values.len(),
                sensors.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MedidaError::Data(format!(
                "observation {i} of field {f} is {}",
                values[i]
            )));
        }
    }
    let fields = match kind {
        InterpolatorKind::None => {
            if sensors.len() != grid.points() {
                return Err(MedidaError::Config(format!(
                    "interpolation `none` needs a sensor at every grid point ({} of {})",
                    sensors.len(),
                    grid.points()
                )));
            }
            observed.to_vec()
        }
        InterpolatorKind::Fourier { ratio, zonal_mean } => {
            let fit = FourierLeastSquares::new(grid.clone(), sensors, *ratio, *zonal_mean)?;
            observed
                .par_iter()
                .map_init(|| fit.clone(), |fit, values| fit.fit(values))
                .collect::<Result<Vec<_>>>()?
        }
        InterpolatorKind::Rff {
            features,
            sigma,
            ridge,
        } => RffRidge::new(grid, sensors, *features, *sigma, *ridge, seed)?.fit_all(observed)?,
        InterpolatorKind::Mlp(settings) => {
            let everywhere = scaled_coordinates(grid);
            let inputs: Vec<[f64; 2]> = sensors.iter().map(|&p| everywhere[p]).collect();
            // One network per field, fields trained in parallel (each from its own stream).
            observed
                .par_iter()
                .enumerate()
                .map(|(f, values)| {
                    let mut net = Mlp::new(settings, seed, f as u64)?;
                    net.train(&inputs, values)?;
                    Ok(net.predict(&everywhere))
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    for (f, field) in fields.iter().enumerate() {
        if field.iter().any(|v| !v.is_finite()) {
            return Err(MedidaError::Data(format!(
                "the {} interpolator diverged: non-finite values in field {f}",
                kind.label()
            )));
        }
    }
    Ok(fields)
}

/// Band-limited least squares on a 2-D periodic grid (see the module text).
#[derive(Clone)]
pub struct FourierLeastSquares {
    grid: Spectral2d,
    sensors: Vec<usize>,
    /// Spectral indices of the fitted modes.
    band: Vec<usize>,
    /// Adjoint weight per fitted mode: 2/N inside the half-spectrum, 1/N on its edge columns.
    weight: Vec<f64>,
    radius: f64,
    spectrum: Vec<Complex64>,
    field: Vec<f64>,
}

/// Conjugate-gradient stopping rule (relative residual of the normal equations).
const CG_TOLERANCE: f64 = 1e-12;
const CG_MAX_ITERATIONS: usize = 3000;

impl FourierLeastSquares {
    pub fn new(grid: Spectral2d, sensors: &[usize], ratio: f64, zonal_mean: bool) -> Result<Self> {
        let points = grid.points();
        if let Some(&p) = sensors.iter().find(|&&p| p >= points) {
            return Err(MedidaError::Config(format!(
                "sensor {p} is outside the grid of {points} points"
            )));
        }
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(MedidaError::Config(format!(
                "interpolation.ratio = {ratio}: unknowns per sensor must lie in (0, 1]"
            )));
        }
        let kx = grid.kx();
        // Real degrees of freedom of a mode: a half-spectrum column carries a complex number;
        // the edge columns pair ±l, so each entry there carries one real number.
        let dof = |m: usize| {
            if m.is_multiple_of(kx) || m % kx == kx - 1 {
                1
            } else {
                2
            }
        };
        let mut modes: Vec<(f64, usize)> = (0..grid.modes())
            .filter(|&m| !grid.is_nyquist(m / kx, m % kx))
            .map(|m| (grid.wavenumber_squared(m / kx, m % kx), m))
            .collect();
        modes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let wanted = (ratio * sensors.len() as f64).floor() as usize;
        let (mut count, mut radius2) = (0usize, 0.0);
        let mut i = 0;
        // Whole shells only, so the band is a disc.
        while i < modes.len() && count < wanted {
            let shell = modes[i].0;
            while i < modes.len() && modes[i].0 == shell {
                count += dof(modes[i].1);
                i += 1;
            }
            radius2 = shell;
        }
        let mut band: Vec<usize> = modes[..i].iter().map(|&(_, m)| m).collect();
        if zonal_mean {
            for row in 0..grid.ny() {
                let m = row * kx;
                if !band.contains(&m) {
                    band.push(m);
                    count += 1;
                }
            }
        }
        if count > sensors.len() {
            return Err(MedidaError::Config(format!(
                "{} sensors cannot determine {count} Fourier unknowns",
                sensors.len()
            )));
        }
        band.sort_unstable();
        let n = points as f64;
        let weight = band
            .iter()
            .map(|&m| if dof(m) == 1 { 1.0 / n } else { 2.0 / n })
            .collect();
        Ok(FourierLeastSquares {
            spectrum: vec![Complex64::new(0.0, 0.0); grid.modes()],
            field: vec![0.0; points],
            grid,
            sensors: sensors.to_vec(),
            band,
            weight,
            radius: radius2.sqrt(),
        })
    }

    /// The disc radius R of the fitted band.
    pub fn radius(&self) -> f64 {
        self.radius
    }

    /// Fitted modes (complex entries of the half spectrum).
    pub fn band_size(&self) -> usize {
        self.band.len()
    }

    /// A: band coefficients → values at the sensors.
    fn forward(&mut self, coefficients: &[Complex64], values: &mut [f64]) {
        self.spectrum.fill(Complex64::new(0.0, 0.0));
        for (&m, &c) in self.band.iter().zip(coefficients) {
            self.spectrum[m] = c;
        }
        self.grid.inverse(&self.spectrum, &mut self.field);
        for (v, &p) in values.iter_mut().zip(&self.sensors) {
            *v = self.field[p];
        }
    }

    /// Aᵀ (the exact adjoint of [`Self::forward`] for the real inner products).
    fn adjoint(&mut self, values: &[f64], coefficients: &mut [Complex64]) {
        self.field.fill(0.0);
        for (&v, &p) in values.iter().zip(&self.sensors) {
            self.field[p] = v;
        }
        self.grid.forward(&self.field, &mut self.spectrum);
        for ((c, &m), w) in coefficients.iter_mut().zip(&self.band).zip(&self.weight) {
            *c = self.spectrum[m] * w;
        }
    }

    /// The fitted field on the whole grid (row-major ny × nx).
    pub fn fit(&mut self, values: &[f64]) -> Result<Vec<f64>> {
        let dot = |a: &[Complex64], b: &[Complex64]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.re * y.re + x.im * y.im)
                .sum()
        };
        let size = self.band.len();
        let zero = Complex64::new(0.0, 0.0);
        let mut x = vec![zero; size];
        let mut r = vec![zero; size];
        self.adjoint(values, &mut r);
        let norm_b = dot(&r, &r).sqrt();
        let mut p = r.clone();
        let mut ap = vec![zero; size];
        let mut sampled = vec![0.0; self.sensors.len()];
        let mut rr = norm_b * norm_b;
        let mut converged = norm_b == 0.0;
        for _ in 0..CG_MAX_ITERATIONS {
            if converged {
                break;
            }
            self.forward(&p, &mut sampled);
            self.adjoint(&sampled.clone(), &mut ap);
            let alpha = rr / dot(&p, &ap);
            for ((xi, pi), (ri, api)) in x.iter_mut().zip(&p).zip(r.iter_mut().zip(&ap)) {
                *xi += alpha * pi;
                *ri -= alpha * api;
            }
            let next = dot(&r, &r);
            if !next.is_finite() {
                break;
            }
            converged = next.sqrt() <= CG_TOLERANCE * norm_b;
            let beta = next / rr;
            rr = next;
            for (pi, ri) in p.iter_mut().zip(&r) {
                *pi = ri + beta * *pi;
            }
        }
        if !converged {
            return Err(MedidaError::Data(format!(
                "the Fourier least-squares fit ({} modes, {} sensors) did not converge in {CG_MAX_ITERATIONS} iterations: too few sensors for the band (lower interpolation.ratio)",
                self.band.len(),
                self.sensors.len()
            )));
        }
        self.spectrum.fill(zero);
        for (&m, &c) in self.band.iter().zip(&x) {
            self.spectrum[m] = c;
        }
        let mut out = vec![0.0; self.grid.points()];
        self.grid.inverse(&self.spectrum, &mut out);
        Ok(out)
    }
}

/// Random-Fourier-feature ridge regression, factorised once for a sensor set.
pub struct RffRidge {
    /// Frequencies 2πB (per scaled coordinate), F/2 of them.
    frequencies: Vec<[f64; 2]>,
    /// Scaled coordinates of every grid point.
    coordinates: Vec<[f64; 2]>,
    sensors: Vec<usize>,
    features_at_sensors: DMatrix<f64>,
    gram: Cholesky,
}

impl RffRidge {
    pub fn new(
        grid: &Spectral2d,
        sensors: &[usize],
        features: usize,
        sigma: f64,
        ridge: f64,
        seed: u64,
    ) -> Result<Self> {
        if features < 2 || !features.is_multiple_of(2) {
            return Err(MedidaError::Config(format!(
                "interpolation.features = {features}: need an even number ≥ 2"
            )));
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(MedidaError::Config(format!(
                "interpolation.sigma = {sigma}: must be positive"
            )));
        }
        if !(ridge.is_finite() && ridge > 0.0) {
            return Err(MedidaError::Config(format!(
                "interpolation.ridge = {ridge}: must be positive"
            )));
        }
        let normal = Normal::new(0.0, sigma).expect("sigma checked positive");
        let mut rng = stream(seed, 0, 0, Purpose::Interpolator);
        let frequencies: Vec<[f64; 2]> = (0..features / 2)
            .map(|_| {
                [
                    2.0 * PI * normal.sample(&mut rng),
                    2.0 * PI * normal.sample(&mut rng),
                ]
            })
            .collect();
        let coordinates = scaled_coordinates(grid);
        let features_at_sensors = feature_rows(&frequencies, &coordinates, sensors);
        let mut gram = product(&features_at_sensors, true, &features_at_sensors, false);
        let scale = ridge * gram.trace() / features as f64;
        for i in 0..features {
            gram[(i, i)] += scale;
        }
        let gram = Cholesky::new(gram)?;
        Ok(RffRidge {
            frequencies,
            coordinates,
            sensors: sensors.to_vec(),
            features_at_sensors,
            gram,
        })
    }

    /// Every field fitted at once (mean removed first, restored after).
    pub fn fit_all(&self, observed: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        let s = self.sensors.len();
        let means: Vec<f64> = observed
            .iter()
            .map(|v| v.iter().sum::<f64>() / s as f64)
            .collect();
        let data = DMatrix::from_fn(s, observed.len(), |r, f| observed[f][r] - means[f]);
        let mut coefficients = product(&self.features_at_sensors, true, &data, false);
        self.gram.solve_in_place(&mut coefficients);
        let points = self.coordinates.len();
        let mut out = vec![vec![0.0; points]; observed.len()];
        const CHUNK: usize = 1024;
        let chunks: Vec<DMatrix<f64>> = (0..points.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let rows: Vec<usize> = (c * CHUNK..((c + 1) * CHUNK).min(points)).collect();
                product(
                    &feature_rows(&self.frequencies, &self.coordinates, &rows),
                    false,
                    &coefficients,
                    false,
                )
            })
            .collect();
        for (c, chunk) in chunks.iter().enumerate() {
            for (f, field) in out.iter_mut().enumerate() {
                for r in 0..chunk.nrows() {
                    field[c * CHUNK + r] = chunk[(r, f)] + means[f];
                }
            }
        }
        Ok(out)
    }
}

/// Every grid point's coordinates scaled to [−π, π)², row-major: the inputs of the
/// random-feature and network interpolators.
fn scaled_coordinates(grid: &Spectral2d) -> Vec<[f64; 2]> {
    let (x, y) = (grid.x(), grid.y());
    (0..grid.points())
        .map(|p| {
            [
                2.0 * PI * x[p % grid.nx()] / grid.lx(),
                2.0 * PI * y[p / grid.nx()] / grid.ly(),
            ]
        })
        .collect()
}

/// [cos ω·v, sin ω·v] for the given points, one row per point.
fn feature_rows(
    frequencies: &[[f64; 2]],
    coordinates: &[[f64; 2]],
    rows: &[usize],
) -> DMatrix<f64> {
    let half = frequencies.len();
    let mut m = DMatrix::zeros(rows.len(), 2 * half);
    for (r, &p) in rows.iter().enumerate() {
        let [vx, vy] = coordinates[p];
        for (f, w) in frequencies.iter().enumerate() {
            let (sin, cos) = (w[0] * vx + w[1] * vy).sin_cos();
            m[(r, f)] = cos;
            m[(r, half + f)] = sin;
        }
    }
    m
}

/// Radially averaged power spectrum of a field: (|K| shell centre, mean |f̂|²) for shells of
/// width 2π/max(Lx, Ly), the figure that shows an interpolator's spectral bias.
pub fn radial_spectrum(grid: &mut Spectral2d, field: &[f64]) -> Vec<(f64, f64)> {
    let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
    grid.forward(field, &mut spectrum);
    let kx = grid.kx();
    let width = 2.0 * PI / grid.lx().max(grid.ly());
    let shells = (grid.k()[kx - 1].min(grid.l()[grid.ny() / 2 - 1]) / width) as usize;
    let mut power = vec![0.0; shells + 1];
    let mut count = vec![0usize; shells + 1];
    let norm = (grid.points() as f64).powi(2);
    for (m, s) in spectrum.iter().enumerate() {
        let shell = (grid.wavenumber_squared(m / kx, m % kx).sqrt() / width).round() as usize;
        if shell <= shells {
            let weight = if m % kx == 0 || m % kx == kx - 1 {
                1.0
            } else {
                2.0
            };
            power[shell] += weight * s.norm_sqr() / norm;
            count[shell] += 1;
        }
    }
    (1..=shells)
        .filter(|&s| count[s] > 0)
        .map(|s| (s as f64 * width, power[s]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::sensors::sensor_mask;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn grid() -> Spectral2d {
        Spectral2d::new(32, 48, 10.0, 14.0).unwrap()
    }

    #[test]
    fn the_adjoint_is_exact() {
        let g = grid();
        let sensors = sensor_mask(g.points(), 0.5, 3).unwrap();
        let mut fit = FourierLeastSquares::new(g, &sensors, 0.3, true).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c: Vec<Complex64> = (0..fit.band_size())
            .map(|_| Complex64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)))
            .collect();
        let v: Vec<f64> = (0..sensors.len())
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let mut ac = vec![0.0; sensors.len()];
        fit.forward(&c, &mut ac);
        let mut atv = vec![Complex64::new(0.0, 0.0); c.len()];
        fit.adjoint(&v, &mut atv);
        let left: f64 = ac.iter().zip(&v).map(|(a, b)| a * b).sum();
        let right: f64 = c
            .iter()
            .zip(&atv)
            .map(|(a, b)| a.re * b.re + a.im * b.im)
            .sum();
        assert!(
            (left - right).abs() < 1e-12 * left.abs().max(1.0),
            "{left} vs {right}"
        );
    }

    #[test]
    fn band_limited_fields_are_recovered_from_half_the_points() {
        let g = grid();
        let (x, y) = (g.x(), g.y());
        let (lx, ly) = (g.lx(), g.ly());
        let truth: Vec<f64> = (0..g.points())
            .map(|p| {
                let (x, y) = (x[p % g.nx()], y[p / g.nx()]);
                0.4 + (2.0 * PI * (x / lx + 2.0 * y / ly)).sin()
                    - 0.3 * (2.0 * PI * (3.0 * x / lx - y / ly)).cos()
                    + 0.2 * (2.0 * PI * 9.0 * y / ly).cos()
            })
            .collect();
        let sensors = sensor_mask(g.points(), 0.5, 11).unwrap();
        let observed: Vec<f64> = sensors.iter().map(|&p| truth[p]).collect();
        let kind = InterpolatorKind::Fourier {
            ratio: 0.3,
            zonal_mean: true,
        };
        let fields = interpolate(&kind, &g, &sensors, &[observed], 0).unwrap();
        let worst = fields[0]
            .iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-9, "max error {worst}");
    }

    #[test]
    fn rff_ridge_fits_a_smooth_field_and_nan_is_an_error() {
        let g = grid();
        let (x, y) = (g.x(), g.y());
        let truth: Vec<f64> = (0..g.points())
            .map(|p| {
                (2.0 * PI * x[p % g.nx()] / g.lx()).sin()
                    * (2.0 * PI * y[p / g.nx()] / g.ly()).cos()
            })
            .collect();
        let sensors = sensor_mask(g.points(), 0.5, 5).unwrap();
        let mut observed: Vec<f64> = sensors.iter().map(|&p| truth[p]).collect();
        let kind = InterpolatorKind::Rff {
            features: 400,
            sigma: 0.3,
            ridge: 1e-10,
        };
        let fields = interpolate(&kind, &g, &sensors, &[observed.clone()], 2).unwrap();
        let rms = (fields[0]
            .iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / truth.len() as f64)
            .sqrt();
        assert!(rms < 1e-3, "rms error {rms}");
        observed[3] = f64::NAN;
        let err = interpolate(&kind, &g, &sensors, &[observed], 2).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
    }
}
