//! The candidate-term library Θ(u): columns `u^p * d^d u/dx^d` (or any terms the grammar
//! allows) evaluated on 1-D periodic states, plus the two linear maps that medida.md shows
//! matter: the model's one-step propagator φ(dt·L) on every column, and projection of the
//! target and every column onto chosen Fourier modes.

use crate::error::{MedidaError, Result};
use crate::solvers::{Spectral1d, Term};
use ndarray::Array2;
use num_complex::Complex64;

/// How derivatives of the state are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivatives {
    /// Spectral on the periodic grid: exact to round-off for resolved modes.
    Spectral,
    /// Periodic central differences, second order, derivative orders 1–4.
    FiniteDifference,
}

/// Highest derivative order the finite-difference stencils provide.
pub const MAX_FD_DERIVATIVE: u32 = 4;

/// A list of terms and how to evaluate them.
#[derive(Clone, Debug)]
pub struct TermLibrary {
    terms: Vec<Term>,
    derivatives: Derivatives,
}

impl TermLibrary {
    /// PDE-FIND library `u^p * d^d u/dx^d`, p = 0..=max_power, d = 0..=max_derivative,
    /// ordered by derivative then power; the constant `1` optional.
    pub fn polynomial(
        max_power: u32,
        max_derivative: u32,
        constant: bool,
        derivatives: Derivatives,
    ) -> Result<Self> {
        let mut terms = Vec::new();
        for d in 0..=max_derivative {
            for p in 0..=max_power {
                let term = Term::power_derivative(p, d);
                if term.degree() == 0 && !constant {
                    continue;
                }
                terms.push(term);
            }
        }
        Self::from_terms(terms, derivatives)
    }

    /// An explicit list of term names.
    pub fn from_names(names: &[&str], derivatives: Derivatives) -> Result<Self> {
        let terms = names
            .iter()
            .map(|n| n.parse::<Term>().map_err(MedidaError::from))
            .collect::<Result<Vec<_>>>()?;
        Self::from_terms(terms, derivatives)
    }

    pub fn from_terms(terms: Vec<Term>, derivatives: Derivatives) -> Result<Self> {
        if terms.is_empty() {
            return Err(MedidaError::Library("the library has no terms".into()));
        }
        for (i, t) in terms.iter().enumerate() {
            if terms[..i].contains(t) {
                return Err(MedidaError::Library(format!("term `{t}` appears twice")));
            }
            if derivatives == Derivatives::FiniteDifference
                && t.max_derivative() > MAX_FD_DERIVATIVE
            {
                return Err(MedidaError::Library(format!(
                    "term `{t}` needs derivative order {} but finite differences go to order {MAX_FD_DERIVATIVE}",
                    t.max_derivative()
                )));
            }
        }
        Ok(TermLibrary { terms, derivatives })
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn names(&self) -> Vec<String> {
        self.terms.iter().map(|t| t.to_string()).collect()
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Index of a term, if the library has it.
    pub fn position(&self, term: &Term) -> Option<usize> {
        self.terms.iter().position(|t| t == term)
    }

    /// Θ(u): one row per grid point, one column per term.
    pub fn evaluate(&self, grid: &mut Spectral1d, state: &[f64]) -> Result<Array2<f64>> {
        let points = grid.points();
        if state.len() != points {
            return Err(MedidaError::Data(format!(
                "state has {} values but the grid has {points} points",
                state.len()
            )));
        }
        if let Some(i) = state.iter().position(|v| !v.is_finite()) {
            return Err(MedidaError::Data(format!("state value {i} is not finite")));
        }
        let max_order = self
            .terms
            .iter()
            .map(|t| t.max_derivative())
            .max()
            .unwrap_or(0);
        // derivative_fields[d] = d^d u/dx^d (d = 0 is u itself).
        let mut derivative_fields = vec![state.to_vec()];
        match self.derivatives {
            Derivatives::Spectral => {
                let orders: Vec<u32> = (1..=max_order).collect();
                derivative_fields.extend(grid.derivatives(state, &orders)?);
            }
            Derivatives::FiniteDifference => {
                for order in 1..=max_order {
                    let mut field = vec![0.0; points];
                    central_difference(state, order, grid.dx(), &mut field);
                    derivative_fields.push(field);
                }
            }
        }
        let mut columns = Array2::zeros((points, self.terms.len()));
        for (j, term) in self.terms.iter().enumerate() {
            for n in 0..points {
                let mut value = state[n].powi(term.power as i32);
                for &d in &term.derivatives {
                    value *= derivative_fields[d as usize][n];
                }
                columns[[n, j]] = value;
            }
        }
        Ok(columns)
    }
}

/// Second-order periodic central differences of order 1–4.
fn central_difference(u: &[f64], order: u32, dx: f64, out: &mut [f64]) {
    let n = u.len();
    let at = |i: usize, offset: isize| u[(i as isize + offset).rem_euclid(n as isize) as usize];
    for i in 0..n {
        out[i] = match order {
            1 => (at(i, 1) - at(i, -1)) / (2.0 * dx),
            2 => (at(i, 1) - 2.0 * u[i] + at(i, -1)) / (dx * dx),
            3 => (at(i, 2) - 2.0 * at(i, 1) + 2.0 * at(i, -1) - at(i, -2)) / (2.0 * dx.powi(3)),
            4 => {
                (at(i, 2) - 4.0 * at(i, 1) + 6.0 * u[i] - 4.0 * at(i, -1) + at(i, -2)) / dx.powi(4)
            }
            _ => unreachable!(
                "orders above {MAX_FD_DERIVATIVE} are rejected when the library is built"
            ),
        };
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn polynomial_library_has_the_papers_25_columns() {
        let lib = TermLibrary::polynomial(4, 4, true, Derivatives::Spectral).unwrap();
        assert_eq!(lib.len(), 25);
        let names = lib.names();
        for n in ["1", "u", "u^4", "u_x", "u*u_x", "u^4*u_xxxx", "u_xxxx"] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }
        let lib = TermLibrary::polynomial(4, 4, false, Derivatives::Spectral).unwrap();
        assert_eq!(lib.len(), 24);
    }

    #[test]
    fn columns_match_analytic_products() {
        let length = 2.0 * PI;
        let mut grid = Spectral1d::new(64, length).unwrap();
        let x = grid.coordinates();
        let u: Vec<f64> = x.iter().map(|x| x.sin()).collect();
        let lib = TermLibrary::from_names(&["u*u_x", "u^2*u_xx", "u_xxx"], Derivatives::Spectral)
            .unwrap();
        let cols = lib.evaluate(&mut grid, &u).unwrap();
        for (n, x) in x.iter().enumerate() {
            let (s, c) = (x.sin(), x.cos());
            assert!((cols[[n, 0]] - s * c).abs() < 1e-12);
            assert!((cols[[n, 1]] + s.powi(3)).abs() < 1e-12);
            // A third derivative amplifies round-off by ~(N/2)^3 ε.
            assert!((cols[[n, 2]] + c).abs() < 1e-11);
        }
    }

    #[test]
    fn finite_differences_are_second_order() {
        let errors: Vec<f64> = [64usize, 128]
            .iter()
            .map(|&n| {
                let mut grid = Spectral1d::new(n, 2.0 * PI).unwrap();
                let x = grid.coordinates();
                let u: Vec<f64> = x.iter().map(|x| x.sin()).collect();
                let lib =
                    TermLibrary::from_names(&["u_xxx"], Derivatives::FiniteDifference).unwrap();
                let cols = lib.evaluate(&mut grid, &u).unwrap();
                x.iter()
                    .enumerate()
                    .map(|(i, x)| (cols[[i, 0]] + x.cos()).abs())
                    .fold(0.0, f64::max)
            })
            .collect();
        let order = (errors[0] / errors[1]).log2();
        assert!((order - 2.0).abs() < 0.05, "order {order}");
    }

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

    #[test]
    fn unknown_or_unsupported_terms_are_errors() {
        assert!(TermLibrary::from_names(&["u_y"], Derivatives::Spectral).is_err());
        let err = TermLibrary::from_names(&["u_xxxxx"], Derivatives::FiniteDifference).unwrap_err();
        assert!(err.to_string().contains("u_xxxxx"), "{err}");
    }
}
