//! The candidate-term library Θ(u) of the 1-D KS family: columns `u^p * d^d u/dx^d` (or any
//! terms the grammar allows) evaluated on periodic states. The linear maps applied alike to
//! target and columns live in [`crate::library::rows`].

use crate::error::{MedidaError, Result};
use crate::solvers::{Spectral1d, Term};
use ndarray::Array2;

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
        for (i, t) in terms.iter().enumerate() {
            if let Some(j) = terms[..i].iter().position(|o| o == t) {
                return Err(MedidaError::Library(format!(
                    "`{}` and `{}` are the same term ({t}); keep one",
                    names[j], names[i]
                )));
            }
        }
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
    fn unknown_or_unsupported_terms_are_errors() {
        assert!(TermLibrary::from_names(&["u_y"], Derivatives::Spectral).is_err());
        let err = TermLibrary::from_names(&["u_xxxxx"], Derivatives::FiniteDifference).unwrap_err();
        assert!(err.to_string().contains("u_xxxxx"), "{err}");
    }
}
