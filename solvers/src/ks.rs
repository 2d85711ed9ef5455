//! The Kuramoto–Sivashinsky family `u_t = sum_j c_j term_j` split as `u_t = L u + N(u)`.
//!
//! Linear terms (`u`, `u_x` ... `u_xxxxxxxx`) form the diagonal spectral operator L, which the
//! integrators treat exactly. Nonlinear terms are evaluated pseudo-spectrally: `u^p*u_x` in
//! conservative form `(u^{p+1}/(p+1))_x`, all others pointwise. The 2/3 rule, when on, zeroes
//! the top third of the spectrum of N(u).

use crate::error::{positive, Result, SolverError};
use crate::grid1d::Spectral1d;
use crate::real_fft::{for_each_pair, InverseMapInto, Twiddles};
use crate::term::{parse_rhs, Term};
use num_complex::Complex64;

/// Highest power `p` of `u^p*u_<d x>` the nonlinear evaluator accepts.
pub const MAX_NONLINEAR_POWER: u32 = 4;
/// Highest derivative order inside a nonlinear term.
pub const MAX_NONLINEAR_DERIVATIVE: u32 = 4;
/// Highest derivative order of a linear term.
pub const MAX_LINEAR_DERIVATIVE: u32 = 8;

/// Physical description of a KS-family model.
#[derive(Clone, Debug, PartialEq)]
pub struct KsParams {
    /// Domain length L; x in [-L/2, L/2).
    pub length: f64,
    /// Grid points N (even, >= 8).
    pub points: usize,
    /// Right-hand side `(term, coefficient)` pairs.
    pub rhs: Vec<(Term, f64)>,
    /// 2/3-rule dealiasing of the nonlinear terms.
    pub dealias: bool,
    /// Evaluate `u^p*u_x` as the derivative of a flux (conserves the mean of u).
    pub conservative: bool,
}

impl KsParams {
    /// The standard KS equation `u_t = -u u_x - u_xx - u_xxxx` (Kassam & Trefethen 2005).
    pub fn standard(length: f64, points: usize) -> Self {
        KsParams {
            length,
            points,
            rhs: parse_rhs([("u*u_x", -1.0), ("u_xx", -1.0), ("u_xxxx", -1.0)])
                .expect("standard terms parse"),
            dealias: true,
            conservative: true,
        }
    }

    /// Builds parameters from `(name, coefficient)` pairs.
    pub fn from_names<'a, I>(length: f64, points: usize, rhs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'a str, f64)>,
    {
        Ok(KsParams {
            length,
            points,
            rhs: parse_rhs(rhs)?,
            dealias: true,
            conservative: true,
        })
    }
}

/// A pointwise nonlinear term `c * u^power * prod u_(d)`.
#[derive(Clone, Debug)]
struct PointwiseTerm {
    coefficient: f64,
    power: u32,
    derivatives: Vec<u32>,
    /// Indices into `derivative_fields` of the derivative factors.
    field_indices: Vec<usize>,
}

/// The model: grid, linear operator and the buffers to evaluate N(u) without allocating.
#[derive(Clone)]
pub struct KsModel {
    params: KsParams,
    grid: Spectral1d,
    linear: Vec<Complex64>,
    /// 1/N, to undo the unnormalised inverse transform.
    inverse_points: f64,
    /// Weights c_p/((p+1) N^{p+1}) of the flux (N u)^{p+1} of `c_p u^p*u_x` (conservative
    /// form), by p; N^{p+1} because the hot loop works on the unnormalised N·u.
    flux_weights: [f64; MAX_NONLINEAR_POWER as usize + 1],
    /// Highest p with a non-zero flux weight; None when no term is in flux form.
    flux_degree: Option<usize>,
    pointwise: Vec<PointwiseTerm>,
    constant: f64,
    dealias_from: usize,
    /// k_j for first derivatives (i k_j u_j), zero at Nyquist.
    k_odd: Vec<f64>,
    /// (i k_j)^d for each derivative order the pointwise terms need, ascending.
    order_factors: Vec<Vec<Complex64>>,
    u: Vec<f64>,
    derivative_fields: Vec<Vec<f64>>,
    work_spectrum: Vec<Complex64>,
}

impl KsModel {
    pub fn new(params: KsParams) -> Result<Self> {
        let grid = Spectral1d::new(params.points, params.length)?;
        let modes = grid.modes();
        let mut linear = vec![Complex64::new(0.0, 0.0); modes];
        let mut flux = vec![0.0; MAX_NONLINEAR_POWER as usize + 1];
        let mut pointwise = Vec::new();
        let mut constant = 0.0;
        for (term, c) in &params.rhs {
            if *c == 0.0 {
                continue;
            }
            if let Some(order) = term.linear_order() {
                if order > MAX_LINEAR_DERIVATIVE {
                    return Err(SolverError::UnsupportedTerm {
                        term: term.to_string(),
                        reason: format!(
                            "linear derivatives up to order {MAX_LINEAR_DERIVATIVE} are supported"
                        ),
                    });
                }
                for (j, l) in linear.iter_mut().enumerate() {
                    *l += c * grid.derivative_factor(j, order);
                }
            } else if term.degree() == 0 {
                constant += c;
            } else {
                if term.power > MAX_NONLINEAR_POWER
                    || term.max_derivative() > MAX_NONLINEAR_DERIVATIVE
                {
                    return Err(SolverError::UnsupportedTerm {
                        term: term.to_string(),
                        reason: format!(
                            "nonlinear terms need power <= {MAX_NONLINEAR_POWER} and derivatives of order <= {MAX_NONLINEAR_DERIVATIVE}"
                        ),
                    });
                }
                match (term.power, term.derivatives.as_slice()) {
                    (p, [1]) if params.conservative && p >= 1 => flux[p as usize] += c,
                    _ => pointwise.push(PointwiseTerm {
                        coefficient: *c,
                        power: term.power,
                        derivatives: term.derivatives.clone(),
                        field_indices: Vec::new(),
                    }),
                }
            }
        }
        let mut needed_orders: Vec<u32> = pointwise
            .iter()
            .flat_map(|t| t.derivatives.iter().copied())
            .collect();
        needed_orders.sort_unstable();
        needed_orders.dedup();
        for term in &mut pointwise {
            term.field_indices = term
                .derivatives
                .iter()
                .map(|d| {
                    needed_orders
                        .binary_search(d)
                        .expect("order collected above")
                })
                .collect();
        }
        let order_factors = needed_orders
            .iter()
            .map(|&d| (0..modes).map(|j| grid.derivative_factor(j, d)).collect())
            .collect();
        let k_odd = (0..modes)
            .map(|j| grid.derivative_factor(j, 1).im)
            .collect();
        let points = params.points;
        // 2/3 rule: keep modes j < N/3.
        let dealias_from = if params.dealias {
            points.div_ceil(3)
        } else {
            modes
        };
        Ok(KsModel {
            derivative_fields: vec![vec![0.0; points]; needed_orders.len()],
            order_factors,
            params,
            linear,
            inverse_points: 1.0 / points as f64,
            flux_weights: std::array::from_fn(|p| {
                flux[p] / (p as f64 + 1.0) / (points as f64).powi(p as i32 + 1)
            }),
            flux_degree: flux.iter().rposition(|&c| c != 0.0),
            pointwise,
            constant,
            dealias_from,
            k_odd,
            u: vec![0.0; points],
            work_spectrum: vec![Complex64::new(0.0, 0.0); modes],
            grid,
        })
    }

    pub fn params(&self) -> &KsParams {
        &self.params
    }

    pub fn grid(&self) -> &Spectral1d {
        &self.grid
    }

    pub fn grid_mut(&mut self) -> &mut Spectral1d {
        &mut self.grid
    }

    /// The diagonal linear operator L(k_j), one entry per real-FFT mode.
    pub fn linear_operator(&self) -> &[Complex64] {
        &self.linear
    }

    /// True when the model has no nonlinear or constant terms.
    pub fn is_linear(&self) -> bool {
        self.constant == 0.0 && self.pointwise.is_empty() && self.flux_degree.is_none()
    }

    pub fn modes(&self) -> usize {
        self.grid.modes()
    }

    pub fn points(&self) -> usize {
        self.grid.points()
    }

    /// For a model whose whole nonlinear part is a flux derivative N(u) = ∂x F(u) (no
    /// pointwise or constant terms): the factors d_j with N̂_j = i d_j F̂_j, k_j on the kept
    /// modes and zero on the dealiased ones. Integrators fold them into their own
    /// coefficients and evaluate only F̂ ([`KsModel::flux`]).
    pub fn flux_derivative(&self) -> Option<Vec<f64>> {
        (self.flux_degree.is_some() && self.pointwise.is_empty() && self.constant == 0.0).then(
            || {
                (0..self.modes())
                    .map(|j| {
                        if j < self.dealias_from {
                            self.k_odd[j]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            },
        )
    }

    /// F̂, the spectrum of the flux of the state with spectrum `spectrum`, with no derivative
    /// and no dealiasing (see [`KsModel::flux_derivative`]). A model without flux terms gives
    /// zero.
    pub fn flux(&mut self, spectrum: &[Complex64], out: &mut [Complex64]) {
        match self.flux_degree {
            Some(degree) => {
                self.grid.inverse_unnormalised(spectrum, &mut self.u);
                self.flux_spectrum(degree, out);
            }
            None => out.fill(Complex64::new(0.0, 0.0)),
        }
    }

    /// F̂ from N·u in `self.u`: F(u) = sum_p c_p u^{p+1}/(p+1), so N = dF/dx.
    #[inline(always)]
    fn flux_spectrum(&mut self, degree: usize, out: &mut [Complex64]) {
        self.fill_flux(degree);
        self.grid.forward_in_place(out);
    }

    /// F(u) from N·u in `self.u` into the grid's real work buffer.
    #[inline(always)]
    fn fill_flux(&mut self, degree: usize) {
        let f = &self.flux_weights;
        let work = self.grid.real_work_mut();
        match degree {
            1 => {
                for (w, &u) in work.iter_mut().zip(&self.u) {
                    *w = f[1] * u * u;
                }
            }
            _ => {
                for (w, &u) in work.iter_mut().zip(&self.u) {
                    *w = u * u * (f[1] + u * (f[2] + u * (f[3] + u * f[4])));
                }
            }
        }
    }

    /// The work buffer (to be filled with the packed input of the inverse transform) and the
    /// pair maps' twiddles: see [`KsModel::flux_packed_from_work`].
    pub(crate) fn packed_work(&mut self) -> (&mut [Complex64], &Twiddles) {
        self.grid.packed_work()
    }

    /// [`KsModel::flux_packed_from_work`] of the state with spectrum `spectrum`: the inverse
    /// pair map of `spectrum` into the work buffer first.
    #[inline(always)]
    pub(crate) fn flux_packed(&mut self, spectrum: &[Complex64], packed: &mut [Complex64]) {
        let half = self.points() / 2;
        let (work, twiddles) = self.grid.packed_work();
        let to_work = InverseMapInto {
            from: spectrum,
            to: work,
            twiddles: &twiddles.inverse,
        };
        for_each_pair(half, to_work);
        self.flux_packed_from_work(packed);
    }

    /// As [`KsModel::flux`], for fused loops that run the real FFT's pair maps
    /// themselves: the work buffer holds the packed input of the inverse transform, and
    /// `packed` gets the packed spectrum of the flux (before the forward pair map).
    #[inline(always)]
    pub(crate) fn flux_packed_from_work(&mut self, packed: &mut [Complex64]) {
        match self.flux_degree {
            Some(degree) => {
                self.grid.inverse_packed_work(&mut self.u);
                self.fill_flux(degree);
                self.grid.forward_packed_work(packed);
            }
            None => packed.fill(Complex64::new(0.0, 0.0)),
        }
    }

    /// Spectrum of the nonlinear part N(u) of the right-hand side, given the spectrum of u.
    #[inline(always)]
    pub fn nonlinear(&mut self, spectrum: &[Complex64], out: &mut [Complex64]) {
        let flux_degree = self.flux_degree;
        let has_pointwise = !self.pointwise.is_empty();
        if flux_degree.is_some() || has_pointwise {
            // self.u holds N·u; the flux weights carry the matching powers of 1/N.
            self.grid.inverse_unnormalised(spectrum, &mut self.u);
        }
        if let Some(degree) = flux_degree {
            self.flux_spectrum(degree, out);
            // Multiply by i k (k = 0 at Nyquist) over the kept modes only.
            let kept = self.dealias_from;
            for (o, &k) in out[..kept].iter_mut().zip(&self.k_odd) {
                *o = Complex64::new(-k * o.im, k * o.re);
            }
        } else {
            out.fill(Complex64::new(0.0, 0.0));
        }
        if has_pointwise {
            for (field, factor) in self.derivative_fields.iter_mut().zip(&self.order_factors) {
                self.grid.inverse_scaled(spectrum, factor, field);
            }
            let work = self.grid.real_work_mut();
            work.fill(0.0);
            for term in &self.pointwise {
                for (n, w) in work.iter_mut().enumerate() {
                    let u = self.u[n] * self.inverse_points;
                    let mut value = term.coefficient * u.powi(term.power as i32);
                    for &index in &term.field_indices {
                        value *= self.derivative_fields[index][n];
                    }
                    *w += value;
                }
            }
            self.grid.forward_in_place(&mut self.work_spectrum);
            for (o, w) in out.iter_mut().zip(&self.work_spectrum) {
                *o += w;
            }
        }
        if self.constant != 0.0 {
            out[0] += self.constant * self.points() as f64;
        }
        for o in out[self.dealias_from..].iter_mut() {
            *o = Complex64::new(0.0, 0.0);
        }
    }

    /// Full right-hand side L u + N(u) in spectral space.
    pub fn rhs(&mut self, spectrum: &[Complex64], out: &mut [Complex64]) {
        self.nonlinear(spectrum, out);
        for ((o, l), s) in out.iter_mut().zip(&self.linear).zip(spectrum) {
            *o += l * s;
        }
    }

    /// Spectrum of a physical state (checked for NaN/inf).
    pub fn to_spectral(&mut self, u: &[f64]) -> Result<Vec<Complex64>> {
        self.grid.check_len("state", u.len())?;
        crate::error::check_finite(u)?;
        let mut spectrum = vec![Complex64::new(0.0, 0.0); self.modes()];
        self.grid.forward(u, &mut spectrum);
        Ok(spectrum)
    }

    /// Physical state of a spectrum.
    pub fn to_physical(&mut self, spectrum: &[Complex64], u: &mut [f64]) {
        self.grid.inverse(spectrum, u);
    }
}

/// Time step check shared by the integrators.
pub(crate) fn check_dt(dt: f64) -> Result<f64> {
    positive("dt", dt)
}

/// Shared by the integrators' tests.
#[cfg(test)]
pub(crate) mod test_cases {
    use super::{KsModel, KsParams};
    use crate::medida_initial_state;
    use num_complex::Complex64;

    /// The standard KS on L = 100 with the MEDIDA initial condition: the model and u0's
    /// spectrum.
    pub fn standard_case(points: usize, dealias: bool) -> (KsModel, Vec<Complex64>) {
        let mut params = KsParams::standard(100.0, points);
        params.dealias = dealias;
        let mut model = KsModel::new(params).unwrap();
        let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
        let v0 = model.to_spectral(&u0).unwrap();
        (model, v0)
    }

    /// ‖a − b‖ / ‖b‖.
    pub fn relative_difference(a: &[Complex64], b: &[Complex64]) -> f64 {
        let norm: f64 = b.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).norm_sqr()).sum();
        diff.sqrt() / norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_terms_are_errors() {
        let params = KsParams::from_names(10.0, 32, [("u^5*u_x", 1.0)]).unwrap();
        let err = KsModel::new(params).err().unwrap();
        assert!(err.to_string().contains("u^5*u_x"), "{err}");
        let params = KsParams::from_names(10.0, 32, [("u*u_xxxxx", 1.0)]).unwrap();
        assert!(KsModel::new(params).is_err());
    }

    #[test]
    fn nonlinear_terms_match_direct_evaluation() {
        // u = sin(kx): u*u_x = sin cos k, u^2*u_xx = -k^2 sin^3.
        let length = 2.0 * std::f64::consts::PI;
        let mut params =
            KsParams::from_names(length, 64, [("u*u_x", 1.0), ("u^2*u_xx", 0.5)]).unwrap();
        params.dealias = false;
        let mut model = KsModel::new(params).unwrap();
        let x = model.grid().coordinates();
        let u: Vec<f64> = x.iter().map(|x| x.sin()).collect();
        let spectrum = model.to_spectral(&u).unwrap();
        let mut n_hat = vec![Complex64::new(0.0, 0.0); model.modes()];
        model.nonlinear(&spectrum, &mut n_hat);
        let mut n = vec![0.0; 64];
        model.to_physical(&n_hat, &mut n);
        for (i, x) in x.iter().enumerate() {
            let exact = x.sin() * x.cos() - 0.5 * x.sin().powi(3);
            assert!((n[i] - exact).abs() < 1e-13, "{} vs {exact}", n[i]);
        }
    }
}
