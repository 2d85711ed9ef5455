//! Two-layer quasi-geostrophic model on a doubly periodic grid (JAMES 2023 setup, pyqg's
//! conventions for the background shear), prognosing the PV anomalies
//!   q1 = ∇²ψ1 − F1(ψ1 − ψ2),  q2 = ∇²ψ2 + F2(ψ1 − ψ2):
//! ∂t q_k = −cJ J(ψ_k, q_k) − U_k ∂x q_k − Q_y,k ∂x ψ_k ± a(ψ1 − ψ2) ∓ b ψR(y)
//!          − s(y)(q_k − ⟨q_k⟩_x) − δ_k2 f ∇²ψ2 − ν D q_k,
//! Q_y,1 = β + F1(U1 − U2), Q_y,2 = β − F2(U1 − U2), D = ∂x⁸ + ∂y⁸ (anisotropic) or ∇⁸.
//! Every term is a parameter; zero switches it off. The Jacobian is dealiased by the 3/2 rule.

use crate::error::{check_finite, positive, Result, SolverError};
use crate::grid2d::{Padding, Spectral2d};
use num_complex::Complex64;

/// Physical parameters of a two-layer QG configuration (units of the JAMES 2023 setup:
/// lengths in deformation radii, rates per model time unit).
#[derive(Clone, Debug, PartialEq)]
pub struct QgParams {
    pub nx: usize,
    pub ny: usize,
    pub lx: f64,
    pub ly: f64,
    /// Layer couplings F1, F2 (deformation wavenumbers²).
    pub f1: f64,
    pub f2: f64,
    pub beta: f64,
    /// Multiplier cJ of the Jacobian (1 = full advection).
    pub jacobian: f64,
    /// Bottom drag f of layer 2 (−f ∇²ψ2).
    pub drag: f64,
    /// Interface relaxation rate a, on ψ1 − ψ2.
    pub relaxation: f64,
    /// Forcing rate b, on the jet streamfunction ψR.
    pub forcing: f64,
    /// Width of the jet u_eq(y) = sech²(y/w) − sech²(y2/w) (y2: distance to the nearest edge).
    pub jet_width: f64,
    /// Strength and width of the eddy sponge s(y) = strength · sech²(y2/w).
    pub sponge: f64,
    pub sponge_width: f64,
    /// Hyperviscosity ν, its order (8 = eighth derivatives) and whether it is ∂x⁸ + ∂y⁸.
    pub hyperviscosity: f64,
    pub hyperviscosity_order: u32,
    pub anisotropic: bool,
    /// Uniform background zonal flows U1, U2 (pyqg's).
    pub shear: (f64, f64),
    /// Bottom topography as it enters layer 2's PV (F2·h_b/H-scaled), a physical ny × nx field
    /// row-major; empty = flat bottom. q2 = ∇²ψ2 + F2(ψ1 − ψ2) + topography.
    pub topography: Vec<f64>,
    /// How y2, the distance to the channel edge in the jet and the sponge, is measured.
    pub edge_distance: EdgeDistance,
    /// 3/2-rule dealiasing of the Jacobian (off: products on the model grid, as pyqg, which
    /// filters small scales instead).
    pub dealias: bool,
}

/// The distance y2 from a latitude to the nearest channel edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeDistance {
    /// Ly/2 − |y|: symmetric about y = 0 on the periodic domain.
    Symmetric,
    /// Distance to the nearest of the first and last grid rows, min(y − y₀, y_last − y): the
    /// authors' code (one grid spacing off the periodic symmetry at the top edge). Kept for
    /// their configuration so that runs reproduce theirs to round-off.
    GridRows,
}

impl QgParams {
    /// The authors' jet in a channel (qg.md): 96 × 192 on 46 × 68, F1 = F2 = 1, β = 0.196,
    /// a = b = 0.01, f = 0.07, ν = 1e-6 on ∂x⁸ + ∂y⁸, jet and sponge widths 3.5.
    pub fn medida_jet() -> Self {
        QgParams {
            nx: 96,
            ny: 192,
            lx: 46.0,
            ly: 68.0,
            f1: 1.0,
            f2: 1.0,
            beta: 0.196,
            jacobian: 1.0,
            drag: 0.07,
            relaxation: 0.01,
            forcing: 0.01,
            jet_width: 3.5,
            sponge: 1.0,
            sponge_width: 3.5,
            hyperviscosity: 1e-6,
            hyperviscosity_order: 8,
            anisotropic: true,
            shear: (0.0, 0.0),
            topography: Vec::new(),
            edge_distance: EdgeDistance::GridRows,
            dealias: true,
        }
    }

    /// Free, inviscid two-layer turbulence: every forcing and dissipation off.
    pub fn inviscid(nx: usize, ny: usize, lx: f64, ly: f64, f: f64, beta: f64) -> Self {
        QgParams {
            nx,
            ny,
            lx,
            ly,
            f1: f,
            f2: f,
            beta,
            jacobian: 1.0,
            drag: 0.0,
            relaxation: 0.0,
            forcing: 0.0,
            jet_width: 3.5,
            sponge: 0.0,
            sponge_width: 3.5,
            hyperviscosity: 0.0,
            hyperviscosity_order: 8,
            anisotropic: true,
            shear: (0.0, 0.0),
            topography: Vec::new(),
            edge_distance: EdgeDistance::Symmetric,
            dealias: true,
        }
    }

    fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("F1", self.f1),
            ("F2", self.f2),
            ("drag", self.drag),
            ("relaxation", self.relaxation),
            ("forcing", self.forcing),
            ("sponge", self.sponge),
            ("hyperviscosity", self.hyperviscosity),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(SolverError::Parameter {
                    name,
                    value,
                    reason: "must be non-negative and finite".into(),
                });
            }
        }
        for (name, value) in [
            ("beta", self.beta),
            ("jacobian", self.jacobian),
            ("U1", self.shear.0),
            ("U2", self.shear.1),
        ] {
            if !value.is_finite() {
                return Err(SolverError::Parameter {
                    name,
                    value,
                    reason: "must be finite".into(),
                });
            }
        }
        if !self.topography.is_empty() && self.topography.len() != self.nx * self.ny {
            return Err(SolverError::Length {
                what: "topography (ny × nx)",
                expected: self.nx * self.ny,
                got: self.topography.len(),
            });
        }
        check_finite(&self.topography)?;
        positive("jet width", self.jet_width)?;
        positive("sponge width", self.sponge_width)?;
        if self.hyperviscosity_order == 0 || !self.hyperviscosity_order.is_multiple_of(2) {
            return Err(SolverError::Parameter {
                name: "hyperviscosity order",
                value: self.hyperviscosity_order as f64,
                reason: "must be a positive even number".into(),
            });
        }
        Ok(())
    }
}

/// The physical terms of the tendency, for term-by-term checks and libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QgTerm {
    Jacobian,
    /// −U_k ∂x q_k − Q_y,k ∂x ψ_k (just −β ∂x ψ_k without shear).
    Beta,
    Relaxation,
    Forcing,
    Sponge,
    Drag,
    /// −ν D q_k, explicit (the steppers apply it implicitly).
    Hyperviscosity,
}

/// All terms except hyperviscosity, which the steppers treat implicitly.
pub const ADVECTIVE_AND_FORCING_TERMS: [QgTerm; 6] = [
    QgTerm::Jacobian,
    QgTerm::Beta,
    QgTerm::Relaxation,
    QgTerm::Forcing,
    QgTerm::Sponge,
    QgTerm::Drag,
];

/// An extra tendency added to the model's own (pyqg's `q_parameterization`): e.g. terms
/// discovered by a regression, or a subgrid closure. It is explicit in every scheme.
pub trait Parameterization: Send + Sync {
    /// Adds the extra tendency at the PV spectra q̂ (both layers) to `out`.
    fn add_tendency(&mut self, q: &[Complex64], out: &mut [Complex64]);
    fn boxed_clone(&self) -> Box<dyn Parameterization>;
}

impl Clone for Box<dyn Parameterization> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

/// A two-layer QG model: parameters, grid, precomputed operators and work buffers. Spectral
/// states hold layer 1 then layer 2, each ny × (nx/2 + 1).
#[derive(Clone)]
pub struct QgModel {
    params: QgParams,
    /// An extra tendency, if any.
    parameterization: Option<Box<dyn Parameterization>>,
    grid: Spectral2d,
    /// The 3/2 grid (None without dealiasing).
    padding: Option<Padding>,
    /// Per mode, the inverse of [[−K² − F1, F1], [F2, −K² − F2]] (row-major); zero at K = 0.
    inversion: Vec<[f64; 4]>,
    /// Per mode, the hyperviscous damping rate ν D.
    damping: Vec<f64>,
    /// Per mode, k and l of the derivative factors i k and i l (zero on the Nyquist row and
    /// column), and K².
    dx: Vec<f64>,
    dy: Vec<f64>,
    k2: Vec<f64>,
    psi_r: Vec<f64>,
    psi_r_hat: Vec<Complex64>,
    /// Spectrum of the topography (empty when flat).
    topography_hat: Vec<Complex64>,
    sponge_profile: Vec<f64>,
    // work buffers
    psi: Vec<Complex64>,
    fine_a: Vec<Complex64>,
    fine_fields: [Vec<f64>; 2],
    fine_product: Vec<f64>,
    coarse_field: Vec<f64>,
    coarse_spectrum: Vec<Complex64>,
}

/// Which of the per-mode terms a pass of [`QgModel::modal_terms`] takes.
#[derive(Clone, Copy)]
struct ModalTerms {
    beta: bool,
    relaxation: bool,
    forcing: bool,
    drag: bool,
}

/// i k z for a real k (two products, where a complex product takes four and two sums).
#[inline(always)]
fn times_ik(k: f64, z: Complex64) -> Complex64 {
    Complex64::new(-k * z.im, k * z.re)
}

/// sech²(z).
fn sech2(z: f64) -> f64 {
    let c = z.cosh();
    1.0 / (c * c)
}

impl QgModel {
    pub fn new(params: QgParams) -> Result<Self> {
        params.validate()?;
        let grid = Spectral2d::new(params.nx, params.ny, params.lx, params.ly)?;
        let padding = if params.dealias {
            Some(Padding::new(&grid)?)
        } else {
            None
        };
        let (kx, ny) = (grid.kx(), grid.ny());
        let mut inversion = vec![[0.0; 4]; grid.modes()];
        let mut damping = vec![0.0; grid.modes()];
        let order = params.hyperviscosity_order as i32;
        for j in 0..ny {
            for i in 0..kx {
                let m = j * kx + i;
                let k2 = grid.wavenumber_squared(j, i);
                if k2 > 0.0 {
                    let (a, b, c, d) = (-k2 - params.f1, params.f1, params.f2, -k2 - params.f2);
                    let det = a * d - b * c;
                    inversion[m] = [d / det, -b / det, -c / det, a / det];
                }
                let (k, l) = (grid.k()[i], grid.l()[j]);
                damping[m] = params.hyperviscosity
                    * if params.anisotropic {
                        k.powi(order) + l.powi(order)
                    } else {
                        k2.powi(order / 2)
                    };
            }
        }
        let y = grid.y();
        let half = params.ly / 2.0;
        let (first, last) = (y[0], y[y.len() - 1]);
        let edge_distance = |y: f64| match params.edge_distance {
            EdgeDistance::Symmetric => half - y.abs(),
            EdgeDistance::GridRows => (y - first).min(last - y),
        };
        let sponge_profile: Vec<f64> = y
            .iter()
            .map(|&y| params.sponge * sech2(edge_distance(y) / params.sponge_width))
            .collect();
        // ψR from u_eq = −dψR/dy, spectrally (a mean of u_eq, if any, is a uniform flow that
        // no periodic ψR can carry: dropped, as in the authors' code).
        let u_eq: Vec<f64> = y
            .iter()
            .map(|&y| sech2(y / params.jet_width) - sech2(edge_distance(y) / params.jet_width))
            .collect();
        let mut u_field = vec![0.0; grid.points()];
        for (j, row) in u_field.chunks_exact_mut(params.nx).enumerate() {
            row.fill(u_eq[j]);
        }
        let mut grid_work = grid.clone();
        let mut psi_r_hat = vec![Complex64::new(0.0, 0.0); grid.modes()];
        grid_work.forward(&u_field, &mut psi_r_hat);
        for j in 0..ny {
            for i in 0..kx {
                let m = j * kx + i;
                let l = grid.l()[j];
                psi_r_hat[m] = if i == 0 && l != 0.0 && j != ny / 2 {
                    // −dψ/dy = u  ⇒  ψ̂ = û / (−i l)
                    psi_r_hat[m] / Complex64::new(0.0, -l)
                } else {
                    Complex64::new(0.0, 0.0)
                };
            }
        }
        grid_work.inverse(&psi_r_hat, &mut u_field);
        let psi_r: Vec<f64> = u_field.chunks_exact(params.nx).map(|row| row[0]).collect();
        let mode_table = |f: &dyn Fn(usize, usize) -> Complex64| -> Vec<f64> {
            (0..grid.modes()).map(|m| f(m / kx, m % kx).im).collect()
        };
        let dx = mode_table(&|j, i| grid.dx_factor(j, i));
        let dy = mode_table(&|j, i| grid.dy_factor(j, i));
        let k2 = (0..grid.modes())
            .map(|m| grid.wavenumber_squared(m / kx, m % kx))
            .collect();
        let topography_hat = if params.topography.is_empty() {
            Vec::new()
        } else {
            let mut spectrum = vec![Complex64::new(0.0, 0.0); grid.modes()];
            grid_work.forward(&params.topography, &mut spectrum);
            spectrum
        };
        let fine_points = padding.as_ref().map_or(grid.points(), |p| p.fine.points());
        let fine_modes = padding.as_ref().map_or(grid.modes(), |p| p.fine.modes());
        Ok(QgModel {
            parameterization: None,
            psi: vec![Complex64::new(0.0, 0.0); 2 * grid.modes()],
            fine_a: vec![Complex64::new(0.0, 0.0); fine_modes],
            fine_fields: std::array::from_fn(|_| vec![0.0; fine_points]),
            fine_product: vec![0.0; fine_points],
            coarse_field: vec![0.0; grid.points()],
            coarse_spectrum: vec![Complex64::new(0.0, 0.0); grid.modes()],
            params,
            grid,
            padding,
            inversion,
            damping,
            dx,
            dy,
            k2,
            psi_r,
            psi_r_hat,
            topography_hat,
            sponge_profile,
        })
    }

    pub fn params(&self) -> &QgParams {
        &self.params
    }
    pub fn grid(&self) -> &Spectral2d {
        &self.grid
    }
    pub fn grid_mut(&mut self) -> &mut Spectral2d {
        &mut self.grid
    }
    /// Spectral size of one layer.
    pub fn modes(&self) -> usize {
        self.grid.modes()
    }
    /// The relaxation target ψR(y) at the grid's y.
    pub fn psi_r(&self) -> &[f64] {
        &self.psi_r
    }
    /// The sponge s(y) at the grid's y.
    pub fn sponge_profile(&self) -> &[f64] {
        &self.sponge_profile
    }
    /// Hyperviscous damping rate ν D per mode (one layer).
    pub fn damping(&self) -> &[f64] {
        &self.damping
    }

    /// ψ̂ from q̂ (both layers): the 2 × 2 inversion per mode. At K = 0 only the baroclinic
    /// mean d = ⟨ψ1 − ψ2⟩ is determined (q1 = −F1 d, q2 = F2 d); it is kept, split ±d/2, and
    /// the barotropic mean (no dynamics) is zero.
    #[inline(always)]
    pub fn invert(&self, q: &[Complex64], psi: &mut [Complex64]) {
        let n = self.modes();
        let flat = self.topography_hat.is_empty();
        for m in 0..n {
            let [a, b, c, d] = self.inversion[m];
            let q1 = q[m];
            let q2 = if flat {
                q[n + m]
            } else {
                q[n + m] - self.topography_hat[m]
            };
            psi[m] = a * q1 + b * q2;
            psi[n + m] = c * q1 + d * q2;
        }
        let (f1, f2) = (self.params.f1, self.params.f2);
        if f1 > 0.0 && f2 > 0.0 {
            let q2_mean = if flat {
                q[n]
            } else {
                q[n] - self.topography_hat[0]
            };
            let difference = 0.5 * (q2_mean / f2 - q[0] / f1);
            psi[0] = 0.5 * difference;
            psi[n] = -0.5 * difference;
        }
    }

    /// q̂ from ψ̂ (both layers).
    pub fn potential_vorticity(&self, psi: &[Complex64], q: &mut [Complex64]) {
        let n = self.modes();
        for m in 0..n {
            let k2 = self.k2[m];
            let (p1, p2) = (psi[m], psi[n + m]);
            q[m] = -k2 * p1 - self.params.f1 * (p1 - p2);
            q[n + m] = -k2 * p2 + self.params.f2 * (p1 - p2);
            if !self.topography_hat.is_empty() {
                q[n + m] += self.topography_hat[m];
            }
        }
    }

    /// The whole tendency except hyperviscosity (which the steppers apply implicitly).
    #[inline(always)]
    pub fn tendency(&mut self, q: &[Complex64], out: &mut [Complex64]) {
        let mut psi = std::mem::take(&mut self.psi);
        self.invert(q, &mut psi);
        // The terms that are products per mode in one pass, then the Jacobian and the sponge.
        let p = &self.params;
        let terms = ModalTerms {
            beta: true,
            relaxation: p.relaxation != 0.0,
            forcing: p.forcing != 0.0,
            drag: p.drag != 0.0,
        };
        self.modal_terms(terms, q, &psi, out, false);
        for term in [QgTerm::Jacobian, QgTerm::Sponge] {
            self.add_term(term, q, &psi, out);
        }
        self.psi = psi;
        if let Some(p) = self.parameterization.as_mut() {
            p.add_tendency(q, out);
        }
    }

    /// The model with an extra tendency added to its own.
    pub fn with_parameterization(mut self, parameterization: Box<dyn Parameterization>) -> Self {
        self.parameterization = Some(parameterization);
        self
    }

    /// One physical term of the tendency, alone.
    pub fn term(&mut self, term: QgTerm, q: &[Complex64], out: &mut [Complex64]) {
        out.fill(Complex64::new(0.0, 0.0));
        let mut psi = std::mem::take(&mut self.psi);
        self.invert(q, &mut psi);
        self.add_term(term, q, &psi, out);
        self.psi = psi;
    }

    #[inline(always)]
    fn add_term(
        &mut self,
        term: QgTerm,
        q: &[Complex64],
        psi: &[Complex64],
        out: &mut [Complex64],
    ) {
        let n = self.modes();
        let p = &self.params;
        match term {
            QgTerm::Jacobian => {
                if p.jacobian != 0.0 {
                    for layer in 0..2 {
                        let range = layer * n..(layer + 1) * n;
                        self.add_jacobian(&psi[range.clone()], &q[range.clone()], &mut out[range]);
                    }
                }
            }
            QgTerm::Beta | QgTerm::Relaxation | QgTerm::Forcing | QgTerm::Drag => {
                let terms = ModalTerms {
                    beta: term == QgTerm::Beta,
                    relaxation: term == QgTerm::Relaxation,
                    forcing: term == QgTerm::Forcing,
                    drag: term == QgTerm::Drag,
                };
                self.modal_terms(terms, q, psi, out, true);
            }
            QgTerm::Sponge => {
                if p.sponge != 0.0 {
                    for layer in 0..2 {
                        let range = layer * n..(layer + 1) * n;
                        self.add_sponge(&q[range.clone()], &mut out[range]);
                    }
                }
            }
            QgTerm::Hyperviscosity => {
                for layer in 0..2 {
                    for m in 0..n {
                        out[layer * n + m] -= self.damping[m] * q[layer * n + m];
                    }
                }
            }
        }
    }

    /// The chosen per-mode terms (Beta, Relaxation, Forcing, Drag) in one pass over the
    /// modes, added to `out` or written over it: the whole tendency takes them together,
    /// [`QgModel::term`] one at a time, from the same formulas.
    #[inline(always)]
    fn modal_terms(
        &self,
        terms: ModalTerms,
        q: &[Complex64],
        psi: &[Complex64],
        out: &mut [Complex64],
        accumulate: bool,
    ) {
        let n = self.modes();
        let p = &self.params;
        let (u1, u2) = p.shear;
        let qy = [p.beta + p.f1 * (u1 - u2), p.beta - p.f2 * (u1 - u2)];
        let (q1, q2) = q[..2 * n].split_at(n);
        let (psi1, psi2) = psi[..2 * n].split_at(n);
        let (out1, out2) = out[..2 * n].split_at_mut(n);
        let (dx, k2, psi_r) = (&self.dx[..n], &self.k2[..n], &self.psi_r_hat[..n]);
        let zero = Complex64::new(0.0, 0.0);
        for m in 0..n {
            let (mut first, mut second) = if accumulate {
                (out1[m], out2[m])
            } else {
                (zero, zero)
            };
            if terms.beta {
                first -= times_ik(dx[m], u1 * q1[m] + qy[0] * psi1[m]);
                second -= times_ik(dx[m], u2 * q2[m] + qy[1] * psi2[m]);
            }
            if terms.relaxation {
                let r = p.relaxation * (psi1[m] - psi2[m]);
                first += r;
                second -= r;
            }
            if terms.forcing {
                let f = p.forcing * psi_r[m];
                first -= f;
                second += f;
            }
            if terms.drag {
                second += p.drag * k2[m] * psi2[m];
            }
            out1[m] = first;
            out2[m] = second;
        }
    }

    /// out −= cJ · J(ψ, q) = cJ (ψ_x q_y − ψ_y q_x), products on the 3/2 grid.
    #[inline(always)]
    fn add_jacobian(&mut self, psi: &[Complex64], q: &[Complex64], out: &mut [Complex64]) {
        let mut coarse = std::mem::take(&mut self.coarse_spectrum);
        // ψ_x q_y first, then − ψ_y q_x: two physical fields at a time (a smaller working set
        // than all four, the same products and sums).
        for (pair, [first, second]) in [[(psi, true), (q, false)], [(psi, false), (q, true)]]
            .into_iter()
            .enumerate()
        {
            for (slot, (field, dx)) in [first, second].into_iter().enumerate() {
                let factors = if dx { &self.dx } else { &self.dy };
                for ((c, &k), &v) in coarse.iter_mut().zip(factors).zip(field) {
                    *c = times_ik(k, v);
                }
                let mut fine_field = std::mem::take(&mut self.fine_fields[slot]);
                match &mut self.padding {
                    Some(padding) => {
                        padding.pad(&coarse, &mut self.fine_a);
                        padding.fine.inverse(&self.fine_a, &mut fine_field);
                    }
                    None => self.grid.inverse(&coarse, &mut fine_field),
                }
                self.fine_fields[slot] = fine_field;
            }
            let [a, b] = &self.fine_fields;
            let product = self.fine_product.iter_mut().zip(a).zip(b);
            if pair == 0 {
                product.for_each(|((j, a), b)| *j = a * b);
            } else {
                product.for_each(|((j, a), b)| *j -= a * b);
            }
        }
        match &mut self.padding {
            Some(padding) => {
                padding.fine.forward(&self.fine_product, &mut self.fine_a);
                padding.truncate(&self.fine_a, &mut coarse);
            }
            None => self.grid.forward(&self.fine_product, &mut coarse),
        }
        let c_j = self.params.jacobian;
        for (o, j) in out.iter_mut().zip(&coarse) {
            *o -= c_j * j;
        }
        self.coarse_spectrum = coarse;
    }

    /// out −= s(y)(q − ⟨q⟩_x), the product in physical space.
    #[inline(always)]
    fn add_sponge(&mut self, q: &[Complex64], out: &mut [Complex64]) {
        let kx = self.grid.kx();
        let nx = self.grid.nx();
        let mut coarse = std::mem::take(&mut self.coarse_spectrum);
        for (m, c) in coarse.iter_mut().enumerate() {
            // The zonal mean is the k = 0 column.
            *c = if m % kx == 0 {
                Complex64::new(0.0, 0.0)
            } else {
                q[m]
            };
        }
        self.grid.inverse(&coarse, &mut self.coarse_field);
        for (row, &s) in self
            .coarse_field
            .chunks_exact_mut(nx)
            .zip(&self.sponge_profile)
        {
            for v in row.iter_mut() {
                *v *= s;
            }
        }
        self.grid.forward(&self.coarse_field, &mut coarse);
        for (o, s) in out.iter_mut().zip(&coarse) {
            *o -= s;
        }
        self.coarse_spectrum = coarse;
    }

    /// Spectrum (both layers) of a physical state [q1; q2] (each ny × nx), checked for NaN.
    pub fn to_spectral(&mut self, q: &[f64]) -> Result<Vec<Complex64>> {
        let points = self.grid.points();
        if q.len() != 2 * points {
            return Err(SolverError::Length {
                what: "two-layer QG state",
                expected: 2 * points,
                got: q.len(),
            });
        }
        check_finite(q)?;
        let n = self.modes();
        let mut spectrum = vec![Complex64::new(0.0, 0.0); 2 * n];
        let (first, second) = spectrum.split_at_mut(n);
        self.grid.forward(&q[..points], first);
        self.grid.forward(&q[points..], second);
        Ok(spectrum)
    }

    /// Physical state [a1; a2] of a two-layer spectrum.
    pub fn to_physical(&mut self, spectrum: &[Complex64], field: &mut [f64]) {
        let (points, n) = (self.grid.points(), self.modes());
        let (first, second) = field.split_at_mut(points);
        self.grid.inverse(&spectrum[..n], first);
        self.grid.inverse(&spectrum[n..], second);
    }

    /// Total energy per unit area for layers of depths ∝ 1/F_k:
    /// E = ½ Σ_k (1/F_k)⟨|∇ψ_k|²⟩ + ½⟨(ψ1 − ψ2)²⟩, the quantity the inviscid, unforced
    /// dynamics conserves.
    pub fn energy(&self, q: &[Complex64]) -> f64 {
        let n = self.modes();
        let mut psi = vec![Complex64::new(0.0, 0.0); 2 * n];
        self.invert(q, &mut psi);
        let (f1, f2) = (self.params.f1, self.params.f2);
        let sum: f64 = (0..n)
            .map(|m| {
                let (p1, p2) = (psi[m], psi[n + m]);
                self.parseval_weight(m)
                    * (self.k2[m] * (p1.norm_sqr() / f1 + p2.norm_sqr() / f2)
                        + (p1 - p2).norm_sqr())
            })
            .sum();
        0.5 * sum / (self.grid.points() as f64).powi(2)
    }

    /// Weight of a half-spectrum mode in a Parseval sum: columns 0 and nx/2 appear once, every
    /// other column stands for itself and its conjugate.
    fn parseval_weight(&self, m: usize) -> f64 {
        let kx = self.grid.kx();
        if m.is_multiple_of(kx) || m % kx == kx - 1 {
            1.0
        } else {
            2.0
        }
    }

    /// Potential enstrophy per unit area, ½ Σ_k (1/F_k)⟨q_k²⟩.
    pub fn enstrophy(&self, q: &[Complex64]) -> f64 {
        let n = self.modes();
        let (f1, f2) = (self.params.f1, self.params.f2);
        let sum: f64 = (0..n)
            .map(|m| self.parseval_weight(m) * (q[m].norm_sqr() / f1 + q[n + m].norm_sqr() / f2))
            .sum();
        0.5 * sum / (self.grid.points() as f64).powi(2)
    }
}
