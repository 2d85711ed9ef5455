//! The 2-D term library of the QG case: fields of a two-layer state (spectral derivatives,
//! the 3/2-dealiased Jacobian), evaluated per layer-independent column and stacked after an
//! edge cut. Names: `psi1`, `psi2`, `lap(psi1)`, `lap(lap(psi1))`, `dx(psi1)`, `dy(psi2)`,
//! `dx(lap(psi1))`, `dy(lap(psi2))`, `psiR`, `J1` = J(ψ1, q1), `J2`, `y`, `hyper(q1)` =
//! (∂x⁸ + ∂y⁸) q1 (the authors' hyperviscous operator), and products of two fields such as
//! `dx(psi1)*dy(psi1)` or `dx(psi1)*dy(lap(psi1))` (dealiased by the 3/2 rule) — the authors'
//! commented-out extensions.

use crate::error::{MedidaError, Result};
use crate::library::rows::EdgeCut;
use crate::solvers::{Padding, QgModel, QgParams, QgTerm, Spectral2d};
use num_complex::Complex64;

/// The authors' ten columns with ∂x and ∂y apart: the default QG library.
pub const DEFAULT_QG_TERMS: [&str; 12] = [
    "lap(psi1)",
    "lap(psi2)",
    "dx(psi1)",
    "dy(psi1)",
    "dx(psi2)",
    "dy(psi2)",
    "psi1",
    "psi2",
    "psiR",
    "J1",
    "J2",
    "y",
];

/// A field of one layer, linear in its streamfunction: ψ_k and its derivatives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Psi(usize),
    Dx(usize),
    Dy(usize),
    Laplacian(usize),
    DxLaplacian(usize),
    DyLaplacian(usize),
    Biharmonic(usize),
}

impl Factor {
    fn parse(compact: &str) -> Option<Self> {
        let layer = |s: &str| match s {
            "psi1" => Some(0),
            "psi2" => Some(1),
            _ => None,
        };
        let inner = |prefix: &str| {
            compact
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
        };
        layer(compact)
            .map(Factor::Psi)
            .or_else(|| {
                inner("lap(lap(")
                    .and_then(|s| s.strip_suffix(')').and_then(layer))
                    .map(Factor::Biharmonic)
            })
            .or_else(|| {
                inner("dx(lap(")
                    .and_then(|s| s.strip_suffix(')').and_then(layer))
                    .map(Factor::DxLaplacian)
            })
            .or_else(|| {
                inner("dy(lap(")
                    .and_then(|s| s.strip_suffix(')').and_then(layer))
                    .map(Factor::DyLaplacian)
            })
            .or_else(|| inner("lap(").and_then(layer).map(Factor::Laplacian))
            .or_else(|| inner("dx(").and_then(layer).map(Factor::Dx))
            .or_else(|| inner("dy(").and_then(layer).map(Factor::Dy))
    }

    fn layer(&self) -> usize {
        match *self {
            Factor::Psi(l)
            | Factor::Dx(l)
            | Factor::Dy(l)
            | Factor::Laplacian(l)
            | Factor::DxLaplacian(l)
            | Factor::DyLaplacian(l)
            | Factor::Biharmonic(l) => l,
        }
    }

    /// The spectral multiplier of ψ̂_k at a mode.
    fn multiplier(&self, grid: &Spectral2d, row: usize, col: usize) -> Complex64 {
        let k2 = grid.wavenumber_squared(row, col);
        match self {
            Factor::Psi(_) => Complex64::new(1.0, 0.0),
            Factor::Dx(_) => grid.dx_factor(row, col),
            Factor::Dy(_) => grid.dy_factor(row, col),
            Factor::Laplacian(_) => Complex64::new(-k2, 0.0),
            Factor::DxLaplacian(_) => -k2 * grid.dx_factor(row, col),
            Factor::DyLaplacian(_) => -k2 * grid.dy_factor(row, col),
            Factor::Biharmonic(_) => Complex64::new(k2 * k2, 0.0),
        }
    }
}

/// One library column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QgColumn {
    Field(Factor),
    /// A product of two fields, dealiased by the 3/2 rule (e.g. `dx(psi1)*dy(psi1)`).
    Product(Factor, Factor),
    /// (∂x⁸ + ∂y⁸) q_k, the authors' hyperviscous operator on the PV anomaly.
    Hyperviscous(usize),
    PsiR,
    Jacobian(usize),
    Y,
}

impl QgColumn {
    /// The same column, products compared in either order.
    pub fn same_as(&self, other: &QgColumn) -> bool {
        match (self, other) {
            (QgColumn::Product(a, b), QgColumn::Product(c, d)) => {
                (a, b) == (c, d) || (a, b) == (d, c)
            }
            _ => self == other,
        }
    }

    /// Parses a column name; anything else is an error naming the term.
    pub fn parse(name: &str) -> Result<Self> {
        let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let column = match compact.as_str() {
            "psiR" => Some(QgColumn::PsiR),
            "J1" => Some(QgColumn::Jacobian(0)),
            "J2" => Some(QgColumn::Jacobian(1)),
            "y" => Some(QgColumn::Y),
            "hyper(q1)" => Some(QgColumn::Hyperviscous(0)),
            "hyper(q2)" => Some(QgColumn::Hyperviscous(1)),
            other => match other.split_once('*') {
                Some((a, b)) => Factor::parse(a)
                    .zip(Factor::parse(b))
                    .map(|(a, b)| QgColumn::Product(a, b)),
                None => Factor::parse(other).map(QgColumn::Field),
            },
        };
        column.ok_or_else(|| {
            MedidaError::Library(format!(
                "unknown QG term `{name}`: use psi1, psi2, psiR, J1, J2, y, hyper(qk), a field \
                 f(psik) with f one of lap, lap(lap, dx, dy, dx(lap, dy(lap (e.g. dx(lap(psi1))), \
                 or a product of two fields (e.g. dx(psi1)*dy(psi1))"
            ))
        })
    }
}

/// Evaluates columns on a grid: their spectra (one layer's modes each), and from those the
/// fields after an optional per-mode multiplier and the edge cut.
#[derive(Clone)]
pub struct QgLibrary {
    names: Vec<String>,
    columns: Vec<QgColumn>,
    /// A model with cJ = 1 for the Jacobian, ψR and the grid.
    helper: QgModel,
    edge_cut: usize,
    /// Transforms of the columns (a copy of the helper's grid).
    transform: Spectral2d,
    /// 3/2-rule products, built when a product column is asked for.
    products: Option<Products>,
}

/// The 3/2-padded grid and its buffers for dealiased products.
#[derive(Clone)]
struct Products {
    padding: Padding,
    spectra: [Vec<Complex64>; 2],
    fields: [Vec<f64>; 2],
}

impl Products {
    fn new(grid: &Spectral2d) -> Result<Self> {
        let padding = Padding::new(grid)?;
        let (modes, points) = (padding.fine.modes(), padding.fine.points());
        Ok(Products {
            padding,
            spectra: [
                vec![Complex64::new(0.0, 0.0); modes],
                vec![Complex64::new(0.0, 0.0); modes],
            ],
            fields: [vec![0.0; points], vec![0.0; points]],
        })
    }

    /// The spectrum of the product of two fields given by their spectra, free of aliasing.
    fn multiply(&mut self, a: &[Complex64], b: &[Complex64], out: &mut [Complex64]) {
        let [sa, sb] = &mut self.spectra;
        let [fa, fb] = &mut self.fields;
        self.padding.pad(a, sa);
        self.padding.pad(b, sb);
        self.padding.fine.inverse(sa, fa);
        self.padding.fine.inverse(sb, fb);
        for (x, y) in fa.iter_mut().zip(fb.iter()) {
            *x *= y;
        }
        self.padding.fine.forward(fa, sa);
        self.padding.truncate(sa, out);
    }
}

impl QgLibrary {
    pub fn new(names: &[String], params: &QgParams, edge_cut: usize) -> Result<Self> {
        let columns = names
            .iter()
            .map(|n| QgColumn::parse(n))
            .collect::<Result<Vec<_>>>()?;
        for (i, c) in columns.iter().enumerate() {
            if let Some(j) = columns[..i].iter().position(|o| o.same_as(c)) {
                return Err(MedidaError::Library(format!(
                    "`{}` and `{}` are the same term; keep one",
                    names[j], names[i]
                )));
            }
        }
        let helper = QgModel::new(QgParams {
            jacobian: 1.0,
            ..params.clone()
        })?;
        let products = if columns.iter().any(|c| matches!(c, QgColumn::Product(..))) {
            Some(Products::new(helper.grid())?)
        } else {
            None
        };
        Ok(QgLibrary {
            names: names.to_vec(),
            columns,
            products,
            transform: helper.grid().clone(),
            helper,
            edge_cut,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The edge cut of this library, unthinned.
    pub fn edge_cut(&self) -> EdgeCut {
        EdgeCut {
            edge: self.edge_cut,
            stride: [1, 1],
        }
    }

    /// Cuts `edge_cut` points from every edge of an ny × nx field, row-major.
    pub fn cut(&self, field: &[f64]) -> Vec<f64> {
        let g = &self.transform;
        self.edge_cut().apply(g.nx(), g.ny(), field)
    }

    /// The columns (one field each, after the cut) at the state q̂ (both layers);
    /// `multiplier` (per mode of one layer) is applied to every column spectrally.
    pub fn evaluate(&mut self, q: &[Complex64], multiplier: Option<&[f64]>) -> Vec<Vec<f64>> {
        let spectra = self.column_spectra(q);
        self.fields(&spectra, multiplier, self.edge_cut())
    }

    /// The fields of column spectra after an optional per-mode multiplier and a cut.
    pub fn fields(
        &mut self,
        spectra: &[Vec<Complex64>],
        multiplier: Option<&[f64]>,
        cut: EdgeCut,
    ) -> Vec<Vec<f64>> {
        let (nx, ny) = (self.transform.nx(), self.transform.ny());
        let mut spectrum = vec![Complex64::new(0.0, 0.0); self.transform.modes()];
        let mut field = vec![0.0; nx * ny];
        spectra
            .iter()
            .map(|column| {
                spectrum.copy_from_slice(column);
                if let Some(multiplier) = multiplier {
                    for (s, m) in spectrum.iter_mut().zip(multiplier) {
                        *s *= m;
                    }
                }
                self.transform.inverse(&spectrum, &mut field);
                cut.apply(nx, ny, &field)
            })
            .collect()
    }

    /// The spectrum of every column (one layer's modes) at the state q̂ (both layers).
    pub fn column_spectra(&mut self, q: &[Complex64]) -> Vec<Vec<Complex64>> {
        let n = self.helper.modes();
        let kx = self.helper.grid().kx();
        let (nx, ny) = (self.helper.grid().nx(), self.helper.grid().ny());
        let mut psi = vec![Complex64::new(0.0, 0.0); 2 * n];
        self.helper.invert(q, &mut psi);
        let mut jacobian = vec![Complex64::new(0.0, 0.0); 2 * n];
        if self
            .columns
            .iter()
            .any(|c| matches!(c, QgColumn::Jacobian(_)))
        {
            self.helper.term(QgTerm::Jacobian, q, &mut jacobian);
        }
        let y = self.helper.grid().y();
        let psi_r = self.helper.psi_r().to_vec();
        let mut field = vec![0.0; nx * ny];
        let mut out = Vec::with_capacity(self.columns.len());
        // Factor spectra of product columns.
        let mut sa = vec![Complex64::new(0.0, 0.0); n];
        let mut sb = sa.clone();
        let grid = self.helper.grid();
        let factor_spectrum = |f: Factor, out: &mut [Complex64]| {
            for (m, o) in out.iter_mut().enumerate() {
                *o = f.multiplier(grid, m / kx, m % kx) * psi[f.layer() * n + m];
            }
        };
        for &column in &self.columns {
            let mut spectrum = vec![Complex64::new(0.0, 0.0); n];
            match column {
                QgColumn::Y | QgColumn::PsiR => {
                    for (j, row) in field.chunks_exact_mut(nx).enumerate() {
                        row.fill(if column == QgColumn::Y {
                            y[j]
                        } else {
                            psi_r[j]
                        });
                    }
                    self.transform.forward(&field, &mut spectrum);
                }
                QgColumn::Field(f) => factor_spectrum(f, &mut spectrum),
                // term() holds −J(ψ_k, q_k)
                QgColumn::Jacobian(l) => {
                    for (s, j) in spectrum.iter_mut().zip(&jacobian[l * n..(l + 1) * n]) {
                        *s = -j;
                    }
                }
                QgColumn::Hyperviscous(l) => {
                    for (m, s) in spectrum.iter_mut().enumerate() {
                        let (kk, ll) = (grid.k()[m % kx], grid.l()[m / kx]);
                        *s = (kk.powi(8) + ll.powi(8)) * q[l * n + m];
                    }
                }
                QgColumn::Product(a, b) => {
                    factor_spectrum(a, &mut sa);
                    factor_spectrum(b, &mut sb);
                    self.products
                        .as_mut()
                        .expect("built for product columns")
                        .multiply(&sa, &sb, &mut spectrum);
                }
            }
            out.push(spectrum);
        }
        out
    }

    /// The expected error per layer, in this library's names: truth − model term by term
    /// (relaxation ±Δa(ψ1 − ψ2), forcing ∓Δb ψR, drag −Δf ∇²ψ2, Jacobian −ΔcJ J_k, β −Δβ ∂xψ_k).
    pub fn expected(&self, truth: &QgParams, model: &QgParams) -> [Vec<(String, f64)>; 2] {
        let (da, db, df) = (
            truth.relaxation - model.relaxation,
            truth.forcing - model.forcing,
            truth.drag - model.drag,
        );
        let (dj, dbeta) = (truth.jacobian - model.jacobian, truth.beta - model.beta);
        let mut layers = [Vec::new(), Vec::new()];
        for (layer, terms) in layers.iter_mut().enumerate() {
            let sign = if layer == 0 { 1.0 } else { -1.0 };
            let mut add = |name: String, value: f64| {
                if value != 0.0 {
                    terms.push((name, value));
                }
            };
            add("psi1".into(), sign * da);
            add("psi2".into(), -sign * da);
            add("psiR".into(), -sign * db);
            if layer == 1 {
                add("lap(psi2)".into(), -df);
            }
            add(format!("J{}", layer + 1), -dj);
            add(
                format!("hyper(q{})", layer + 1),
                -(truth.hyperviscosity - model.hyperviscosity),
            );
            add(format!("dx(psi{})", layer + 1), -dbeta);
        }
        layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn column_names_parse_and_unknown_ones_are_errors() {
        use Factor::*;
        for (name, column) in [
            ("lap(psi2)", QgColumn::Field(Laplacian(1))),
            ("lap(lap(psi1))", QgColumn::Field(Biharmonic(0))),
            ("dy( psi1 )", QgColumn::Field(Dy(0))),
            ("dx(lap(psi2))", QgColumn::Field(DxLaplacian(1))),
            ("J2", QgColumn::Jacobian(1)),
            ("hyper(q1)", QgColumn::Hyperviscous(0)),
            ("dx(psi1) * dy(psi1)", QgColumn::Product(Dx(0), Dy(0))),
            (
                "dx(psi1)*dy(lap(psi1))",
                QgColumn::Product(Dx(0), DyLaplacian(0)),
            ),
        ] {
            assert_eq!(QgColumn::parse(name).unwrap(), column, "{name}");
        }
        for bad in ["lap(psi3)", "dx(psi1)*", "q1", "dx(psi1)*J1", "hyper(psi1)"] {
            let err = QgColumn::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// On a band-limited state (so that no product aliases) the dealiased product column is
    /// the pointwise product of its factors' columns, and hyper(q1) is (k⁸ + l⁸) q̂1 exactly.
    #[test]
    fn product_and_hyperviscous_columns_are_exact_on_band_limited_fields() {
        let params = QgParams {
            nx: 32,
            ny: 48,
            lx: 20.0,
            ly: 30.0,
            ..QgParams::medida_jet()
        };
        let names: Vec<String> = [
            "dx(psi1)",
            "dy(lap(psi1))",
            "dx(psi1)*dy(lap(psi1))",
            "psi2*lap(psi1)",
            "psi2",
            "lap(psi1)",
            "hyper(q1)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut library = QgLibrary::new(&names, &params, 0).unwrap();
        let mut model = QgModel::new(params.clone()).unwrap();
        let (x, y) = (model.grid().x(), model.grid().y());
        let points = model.grid().points();
        let (kx, ly) = (2.0 * PI / 20.0, 2.0 * PI / 30.0);
        let mut psi = vec![0.0; 2 * points];
        for p in 0..points {
            let (x, y) = (x[p % 32], y[p / 32]);
            psi[p] = (2.0 * kx * x + ly * y).sin() + 0.3 * (3.0 * ly * y).cos();
            psi[points + p] = 0.5 * (kx * x - 2.0 * ly * y).cos();
        }
        let psi_hat = model.to_spectral(&psi).unwrap();
        let mut q = vec![Complex64::new(0.0, 0.0); psi_hat.len()];
        model.potential_vorticity(&psi_hat, &mut q);
        let c = library.evaluate(&q, None);
        let scale = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (product, a, b) in [(2, 0, 1), (3, 4, 5)] {
            let pointwise: Vec<f64> = c[a].iter().zip(&c[b]).map(|(u, v)| u * v).collect();
            let worst = c[product]
                .iter()
                .zip(&pointwise)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-12 * scale(&pointwise),
                "{}: {worst:e}",
                names[product]
            );
        }
        // q1 = lap(ψ1) − (ψ1 − ψ2): every mode of it carries (k⁸ + l⁸) in the column.
        let n = model.modes();
        let mut expected = vec![Complex64::new(0.0, 0.0); n];
        let grid = model.grid();
        for (m, e) in expected.iter_mut().enumerate() {
            let (k, l) = (grid.k()[m % grid.kx()], grid.l()[m / grid.kx()]);
            *e = (k.powi(8) + l.powi(8)) * q[m];
        }
        let mut field = vec![0.0; points];
        model.grid_mut().inverse(&expected, &mut field);
        let worst = c[6]
            .iter()
            .zip(&field)
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12 * scale(&field), "hyper(q1): {worst:e}");
    }
}
