//! The 2-D term library of the QG case: fields of a two-layer state (spectral derivatives,
//! the 3/2-dealiased Jacobian), evaluated per layer-independent column and stacked after an
//! edge cut. Names: `psi1`, `psi2`, `lap(psi1)`, `lap(lap(psi1))`, `dx(psi1)`, `dy(psi2)`,
//! `psiR`, `J1` = J(ψ1, q1), `J2`, `y`.

use crate::error::{MedidaError, Result};
use crate::solvers::{QgModel, QgParams, QgTerm};
use num_complex::Complex64;

/// One library column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QgColumn {
    Psi(usize),
    Laplacian(usize),
    Biharmonic(usize),
    Dx(usize),
    Dy(usize),
    PsiR,
    Jacobian(usize),
    Y,
}

impl QgColumn {
    /// Parses a column name; anything else is an error naming the term.
    pub fn parse(name: &str) -> Result<Self> {
        let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let layer = |s: &str| match s {
            "psi1" => Some(0),
            "psi2" => Some(1),
            _ => None,
        };
        let inner = |prefix: &str| {
            compact
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
                .map(|s| s.to_string())
        };
        let column = match compact.as_str() {
            "psiR" => Some(QgColumn::PsiR),
            "J1" => Some(QgColumn::Jacobian(0)),
            "J2" => Some(QgColumn::Jacobian(1)),
            "y" => Some(QgColumn::Y),
            other => layer(other).map(QgColumn::Psi),
        }
        .or_else(|| {
            inner("lap(lap(")
                .and_then(|s| s.strip_suffix(')').and_then(layer))
                .map(QgColumn::Biharmonic)
        })
        .or_else(|| {
            inner("lap(")
                .and_then(|s| layer(&s))
                .map(QgColumn::Laplacian)
        })
        .or_else(|| inner("dx(").and_then(|s| layer(&s)).map(QgColumn::Dx))
        .or_else(|| inner("dy(").and_then(|s| layer(&s)).map(QgColumn::Dy));
        column.ok_or_else(|| {
            MedidaError::Library(format!(
                "unknown QG term `{name}`: use psi1, psi2, psiR, J1, J2, y, lap(psik), lap(lap(psik)), dx(psik), dy(psik)"
            ))
        })
    }
}

/// Evaluates columns on a grid, with the edge cut and an optional per-mode multiplier.
pub struct QgLibrary {
    names: Vec<String>,
    columns: Vec<QgColumn>,
    /// A model with cJ = 1 for the Jacobian, ψR and the grid.
    helper: QgModel,
    edge_cut: usize,
    /// Keep every stride[0]-th column and stride[1]-th row of the cut field.
    stride: [usize; 2],
}

impl QgLibrary {
    pub fn new(names: &[String], params: &QgParams, edge_cut: usize) -> Result<Self> {
        let columns = names
            .iter()
            .map(|n| QgColumn::parse(n))
            .collect::<Result<Vec<_>>>()?;
        let helper = QgModel::new(QgParams {
            jacobian: 1.0,
            ..params.clone()
        })?;
        Ok(QgLibrary {
            names: names.to_vec(),
            columns,
            helper,
            edge_cut,
            stride: [1, 1],
        })
    }

    /// Thins the stacked rows to every `sx`-th point in x and `sy`-th in y. For fields
    /// low-passed to |K| ≤ k_c, a spacing of π/k_c keeps what the filter left while making the
    /// rows' errors nearly independent, as the RVM's noise model assumes.
    pub fn with_stride(mut self, sx: usize, sy: usize) -> Self {
        self.stride = [sx.max(1), sy.max(1)];
        self
    }

    /// The stride for fields low-passed to |K| ≤ `cutoff`: grid steps per π/cutoff.
    pub fn nyquist_stride(&self, cutoff: f64) -> (usize, usize) {
        let g = self.helper.grid();
        let spacing = std::f64::consts::PI / cutoff;
        let dx = g.lx() / g.nx() as f64;
        let dy = g.ly() / g.ny() as f64;
        (
            ((spacing / dx).floor() as usize).max(1),
            ((spacing / dy).floor() as usize).max(1),
        )
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Rows per sample after the edge cut.
    pub fn rows(&self) -> usize {
        let g = self.helper.grid();
        let [sx, sy] = self.stride;
        (g.nx() - 2 * self.edge_cut).div_ceil(sx) * (g.ny() - 2 * self.edge_cut).div_ceil(sy)
    }

    /// Cuts `edge_cut` points from every edge of an ny × nx field, row-major (thinned by
    /// the stride, if any).
    pub fn cut(&self, field: &[f64]) -> Vec<f64> {
        let g = self.helper.grid();
        let (nx, ny, c) = (g.nx(), g.ny(), self.edge_cut);
        let [sx, sy] = self.stride;
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

    /// The columns (rows × columns, row-major, after the cut) at the state q̂ (both layers);
    /// `multiplier` (per mode of one layer) is applied to every column spectrally.
    pub fn evaluate(&mut self, q: &[Complex64], multiplier: Option<&[f64]>) -> Vec<Vec<f64>> {
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
        let mut spectrum = vec![Complex64::new(0.0, 0.0); n];
        let mut field = vec![0.0; nx * ny];
        let mut out = Vec::with_capacity(self.columns.len());
        for column in self.columns.clone() {
            let grid = self.helper.grid();
            let physical_only = matches!(column, QgColumn::Y | QgColumn::PsiR);
            if physical_only {
                for (j, row) in field.chunks_exact_mut(nx).enumerate() {
                    row.fill(if column == QgColumn::Y {
                        y[j]
                    } else {
                        psi_r[j]
                    });
                }
                self.helper.grid_mut().forward(&field, &mut spectrum);
            } else {
                for m in 0..n {
                    let (row, col) = (m / kx, m % kx);
                    let k2 = grid.wavenumber_squared(row, col);
                    spectrum[m] = match column {
                        QgColumn::Psi(l) => psi[l * n + m],
                        QgColumn::Laplacian(l) => -k2 * psi[l * n + m],
                        QgColumn::Biharmonic(l) => k2 * k2 * psi[l * n + m],
                        QgColumn::Dx(l) => grid.dx_factor(row, col) * psi[l * n + m],
                        QgColumn::Dy(l) => grid.dy_factor(row, col) * psi[l * n + m],
                        // term() holds −J(ψ_k, q_k)
                        QgColumn::Jacobian(l) => -jacobian[l * n + m],
                        QgColumn::PsiR | QgColumn::Y => unreachable!(),
                    };
                }
            }
            if let Some(multiplier) = multiplier {
                for (s, m) in spectrum.iter_mut().zip(multiplier) {
                    *s *= m;
                }
            }
            self.helper.grid_mut().inverse(&spectrum, &mut field);
            out.push(self.cut(&field));
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
            add(format!("dx(psi{})", layer + 1), -dbeta);
        }
        layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_parse_and_unknown_ones_are_errors() {
        assert_eq!(
            QgColumn::parse("lap(psi2)").unwrap(),
            QgColumn::Laplacian(1)
        );
        assert_eq!(
            QgColumn::parse("lap(lap(psi1))").unwrap(),
            QgColumn::Biharmonic(0)
        );
        assert_eq!(QgColumn::parse("dy( psi1 )").unwrap(), QgColumn::Dy(0));
        assert_eq!(QgColumn::parse("J2").unwrap(), QgColumn::Jacobian(1));
        let err = QgColumn::parse("lap(psi3)").unwrap_err().to_string();
        assert!(err.contains("lap(psi3)"), "{err}");
    }
}
