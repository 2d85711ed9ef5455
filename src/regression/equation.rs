//! A discovered equation that prints itself: `u_t error = -1.0004(±0.0003) u*u_x + ...`.

use crate::regression::rvm::RvmFit;
use std::fmt;

/// One term with its coefficient and (optional) posterior standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct EquationTerm {
    pub term: String,
    pub coefficient: f64,
    pub std: Option<f64>,
}

/// `lhs = sum_j c_j term_j`, e.g. lhs = "u_t error".
#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    pub lhs: String,
    pub terms: Vec<EquationTerm>,
}

impl Equation {
    pub fn from_fit(lhs: &str, fit: &RvmFit) -> Self {
        Equation {
            lhs: lhs.to_string(),
            terms: fit
                .terms()
                .into_iter()
                .map(|(term, coefficient, std)| EquationTerm {
                    term,
                    coefficient,
                    std: Some(std),
                })
                .collect(),
        }
    }

    pub fn from_pairs(lhs: &str, pairs: &[(String, f64)]) -> Self {
        Equation {
            lhs: lhs.to_string(),
            terms: pairs
                .iter()
                .map(|(term, coefficient)| EquationTerm {
                    term: term.clone(),
                    coefficient: *coefficient,
                    std: None,
                })
                .collect(),
        }
    }
}

/// Decimals that show the uncertainty with one significant digit, two when it starts with 1
/// (0.0003 → 4 decimals, 0.0011 → 4); at least 2.
fn decimals_for(std: Option<f64>, coefficient: f64) -> usize {
    let reference = match std {
        Some(s) if s > 0.0 && s.is_finite() => s,
        _ => coefficient.abs().max(1e-300) * 1e-4,
    };
    let exponent = reference.log10().floor();
    let leading = reference / 10f64.powf(exponent);
    let significant = if leading < 2.0 { 2.0 } else { 1.0 };
    ((significant - 1.0 - exponent).max(2.0) as usize).min(10)
}

impl fmt::Display for Equation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} =", self.lhs)?;
        if self.terms.is_empty() {
            return write!(f, " 0");
        }
        for (k, t) in self.terms.iter().enumerate() {
            let decimals = decimals_for(t.std, t.coefficient);
            let sign = if t.coefficient < 0.0 { "-" } else { "+" };
            let magnitude = t.coefficient.abs();
            if k == 0 {
                let lead = if t.coefficient < 0.0 { "-" } else { "" };
                write!(f, " {lead}{magnitude:.decimals$}")?;
            } else {
                write!(f, " {sign} {magnitude:.decimals$}")?;
            }
            if let Some(s) = t.std {
                write!(f, "(±{s:.decimals$})")?;
            }
            if t.term != "1" {
                write!(f, " {}", t.term)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_the_style_guide() {
        let eq = Equation {
            lhs: "u_t error".into(),
            terms: vec![
                EquationTerm {
                    term: "u*u_x".into(),
                    coefficient: -1.00041,
                    std: Some(0.0003),
                },
                EquationTerm {
                    term: "u_xxx".into(),
                    coefficient: 0.09981,
                    std: Some(0.0011),
                },
            ],
        };
        assert_eq!(
            eq.to_string(),
            "u_t error = -1.0004(±0.0003) u*u_x + 0.0998(±0.0011) u_xxx"
        );
    }

    #[test]
    fn empty_equation_is_zero() {
        let eq = Equation::from_pairs("u_t error", &[]);
        assert_eq!(eq.to_string(), "u_t error = 0");
    }
}
