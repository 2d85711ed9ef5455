//! Names of 1-D terms, `u^p * u_x * u_xx ...`, as fixed by interfaces.md.
//!
//! A term is `1` or a product of factors joined by `*`: `u`, `u^p` (p >= 2) or a derivative
//! `u_` followed by one `x` per order. Spaces are ignored; the printed form puts the power
//! first, then the derivatives in increasing order (`u^2*u_xx`).

use crate::error::{Result, SolverError};
use std::fmt;
use std::str::FromStr;

/// Highest derivative order the grammar accepts at all; each consumer checks its own limit.
pub const MAX_GRAMMAR_DERIVATIVE: u32 = 8;

/// A monomial `u^power * prod_i d^{derivatives[i]} u / dx^{derivatives[i]}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    /// Power of the undifferentiated factor `u`.
    pub power: u32,
    /// Orders (>= 1) of the derivative factors, sorted ascending.
    pub derivatives: Vec<u32>,
}

impl Term {
    /// The constant term `1`.
    pub fn constant() -> Self {
        Term {
            power: 0,
            derivatives: Vec::new(),
        }
    }

    /// `u^power * d^order u/dx^order` (order 0 means no derivative factor), the PDE-FIND column.
    pub fn power_derivative(power: u32, order: u32) -> Self {
        Term {
            power,
            derivatives: if order == 0 { Vec::new() } else { vec![order] },
        }
    }

    /// Number of `u` factors: 1 for a linear term, 0 for the constant.
    pub fn degree(&self) -> u32 {
        self.power + self.derivatives.len() as u32
    }

    /// The derivative order of a linear term (`u` → 0, `u_xx` → 2), None otherwise.
    pub fn linear_order(&self) -> Option<u32> {
        match (self.power, self.derivatives.as_slice()) {
            (1, []) => Some(0),
            (0, [d]) => Some(*d),
            _ => None,
        }
    }

    /// Highest derivative order in the term (0 if none).
    pub fn max_derivative(&self) -> u32 {
        self.derivatives.iter().copied().max().unwrap_or(0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut factors: Vec<String> = Vec::new();
        match self.power {
            0 => {}
            1 => factors.push("u".into()),
            p => factors.push(format!("u^{p}")),
        }
        for &d in &self.derivatives {
            factors.push(format!("u_{}", "x".repeat(d as usize)));
        }
        if factors.is_empty() {
            write!(f, "1")
        } else {
            write!(f, "{}", factors.join("*"))
        }
    }
}

impl FromStr for Term {
    type Err = SolverError;

    fn from_str(name: &str) -> Result<Self> {
        let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let unknown = |reason: String| SolverError::UnknownTerm {
            term: name.to_string(),
            reason,
        };
        if compact.is_empty() {
            return Err(unknown("empty term name".into()));
        }
        if compact == "1" {
            return Ok(Term::constant());
        }
        let mut term = Term::constant();
        for factor in compact.split('*') {
            if factor == "u" {
                term.power += 1;
            } else if let Some(exponent) = factor.strip_prefix("u^") {
                let p: u32 = exponent.parse().map_err(|_| {
                    unknown(format!("`{factor}`: the power must be an integer >= 2"))
                })?;
                if p < 2 {
                    return Err(unknown(format!(
                        "`{factor}`: the power must be an integer >= 2 (write `u` for the first power)"
                    )));
                }
                term.power += p;
            } else if let Some(xs) = factor.strip_prefix("u_") {
                if xs.is_empty() || !xs.chars().all(|c| c == 'x') {
                    return Err(unknown(format!(
                        "`{factor}`: a derivative is `u_` followed by one `x` per order (1-D field `u` in x only)"
                    )));
                }
                let order = xs.len() as u32;
                if order > MAX_GRAMMAR_DERIVATIVE {
                    return Err(unknown(format!(
                        "`{factor}`: derivative order {order} exceeds the supported maximum {MAX_GRAMMAR_DERIVATIVE}"
                    )));
                }
                term.derivatives.push(order);
            } else {
                return Err(unknown(format!(
                    "`{factor}` is not a factor: use `u`, `u^p` or `u_x...`"
                )));
            }
        }
        term.derivatives.sort_unstable();
        Ok(term)
    }
}

/// Parses `(name, coefficient)` pairs into terms, merging repeated terms by summing.
pub fn parse_rhs<'a, I>(pairs: I) -> Result<Vec<(Term, f64)>>
where
    I: IntoIterator<Item = (&'a str, f64)>,
{
    let mut rhs: Vec<(Term, f64)> = Vec::new();
    for (name, coefficient) in pairs {
        let term: Term = name.parse()?;
        if !coefficient.is_finite() {
            return Err(SolverError::Parameter {
                name: "rhs coefficient",
                value: coefficient,
                reason: format!("coefficient of `{name}` must be finite"),
            });
        }
        match rhs.iter_mut().find(|(t, _)| *t == term) {
            Some((_, c)) => *c += coefficient,
            None => rhs.push((term, coefficient)),
        }
    }
    Ok(rhs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "1",
            "u",
            "u^2",
            "u_x",
            "u*u_x",
            "u^2*u_xx",
            "u_xxxx",
            "u^3*u_xxx",
        ] {
            let term: Term = name.parse().unwrap();
            assert_eq!(term.to_string(), name);
        }
    }

    #[test]
    fn spaces_and_order_are_canonicalised() {
        let term: Term = " u_x * u ".parse().unwrap();
        assert_eq!(term.to_string(), "u*u_x");
        let term: Term = "u*u*u_xx".parse().unwrap();
        assert_eq!(term.to_string(), "u^2*u_xx");
    }

    #[test]
    fn bad_names_are_errors_naming_the_term() {
        for name in ["u_y", "v", "u^-1", "u_xxxxxxxxxx", "u^1", "", "u**u", "2*u"] {
            let err = name.parse::<Term>().unwrap_err();
            assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
        }
    }

    #[test]
    fn linear_terms_are_recognised() {
        assert_eq!("u".parse::<Term>().unwrap().linear_order(), Some(0));
        assert_eq!("u_xxxx".parse::<Term>().unwrap().linear_order(), Some(4));
        assert_eq!("u*u_x".parse::<Term>().unwrap().linear_order(), None);
        assert_eq!("1".parse::<Term>().unwrap().linear_order(), None);
    }
}
