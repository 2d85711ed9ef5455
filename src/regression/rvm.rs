//! Relevance vector machine (Tipping 2001): sparse Bayesian linear regression y = Φw + ε,
//! ε ~ N(0, β⁻¹), with a Gaussian prior w_i ~ N(0, α_i⁻¹) per weight. α and β are found by
//! type-II maximum likelihood; weights whose α exceeds `prune_alpha` are pruned.
//!
//! Two algorithms behind one interface, both working on the sufficient statistics only:
//! - `Reestimate`: MacKay's updates as in the paper, γ_i = 1 − α_iΣ_ii, α_i = γ_i/m_i²,
//!   β = (N − Σγ)/‖y − Φm‖², all weights at once;
//! - `Fast`: Tipping & Faul (2003), one basis at a time added, re-estimated or deleted by its
//!   sparsity and quality factors.
//!
//! Columns and the target are centred and scaled to unit standard deviation internally, so
//! the fit is free of units: scaling the target or any column by a positive factor scales
//! the coefficients and their std by the same factor and changes nothing else, and
//! `prune_alpha` is dimensionless: a term is pruned when its typical contribution
//! std(column)·|w| falls below about std(target)/√prune_alpha. Coefficients and their
//! posterior standard deviations are reported in physical units. Σ comes from Cholesky
//! factorisations, never from an explicit inverse of the Gram matrix.

use crate::error::{MedidaError, Result};
use crate::regression::normal_equations::NormalEquations;
use nalgebra::{Cholesky, DMatrix, DVector};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RvmMethod {
    /// Tipping/MacKay re-estimation of all α at once (the paper's algorithm).
    Reestimate,
    /// Tipping & Faul's fast marginal-likelihood maximisation.
    Fast,
}

impl FromStr for RvmMethod {
    type Err = MedidaError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rvm" => Ok(RvmMethod::Reestimate),
            "rvm-fast" => Ok(RvmMethod::Fast),
            other => Err(MedidaError::Config(format!(
                "unknown regression method `{other}`: use \"rvm\" or \"rvm-fast\""
            ))),
        }
    }
}

/// Settings of one fit at a fixed threshold. The default threshold, 1e4, prunes a term whose
/// typical contribution is below 1 % of the target's spread; runs and `medida fit` choose the
/// threshold from the data instead ([`crate::regression::sweep::PruneAlpha::Auto`]).
#[derive(Clone, Debug)]
pub struct RvmSettings {
    pub method: RvmMethod,
    /// Weights whose precision α exceeds this are pruned (dimensionless: α acts on the
    /// weights of standardised columns and target).
    pub prune_alpha: f64,
    /// Re-estimation converges when max |Δα| over the retained weights is below this.
    pub tolerance: f64,
    pub max_iterations: usize,
    /// Remove column and target means (an intercept absorbs constants).
    pub center: bool,
}

impl Default for RvmSettings {
    fn default() -> Self {
        RvmSettings {
            method: RvmMethod::Reestimate,
            prune_alpha: 1e4,
            tolerance: 0.1,
            max_iterations: 10_000,
            center: true,
        }
    }
}

/// One column that did not enter the regression, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct DroppedColumn {
    pub index: usize,
    pub name: String,
    pub reason: String,
}

/// The result of a fit. Vectors run over all input columns; pruned columns have coefficient
/// 0, std 0 and α = ∞.
#[derive(Clone, Debug)]
pub struct RvmFit {
    pub names: Vec<String>,
    pub coefficients: Vec<f64>,
    pub std: Vec<f64>,
    /// Prior precisions of the standardised weights.
    pub alpha: Vec<f64>,
    /// Indices of the retained columns.
    pub retained: Vec<usize>,
    /// Columns removed before fitting (constant after centring, or duplicating another).
    pub dropped: Vec<DroppedColumn>,
    /// Intercept (target mean minus the fitted columns' means) when centring.
    pub intercept: f64,
    /// Noise precision β, in physical units of the target.
    pub noise_precision: f64,
    /// Log marginal likelihood of the standardised problem at the optimum.
    pub log_evidence: f64,
    /// ‖y − ȳ − (Φ − μ)w‖² / ‖y − ȳ‖², the normalised residual.
    pub normalised_error: f64,
    pub iterations: usize,
    pub converged: bool,
    pub rows: usize,
    /// Mean and variance of the target (the empty model's intercept and noise).
    pub target_mean: f64,
    pub target_variance: f64,
}

impl RvmFit {
    /// Noise standard deviation β^{-1/2} in physical units.
    pub fn noise_std(&self) -> f64 {
        1.0 / self.noise_precision.sqrt()
    }

    /// The same fit with every term pruned: the empty model, its noise the target's spread.
    pub fn without_terms(&self) -> RvmFit {
        let p = self.names.len();
        // A constant target (round-off spread) is fitted exactly by the intercept.
        let own = self.target_variance + self.target_mean * self.target_mean;
        let variance = if self.target_variance > 1e-28 * own {
            self.target_variance
        } else {
            0.0
        };
        RvmFit {
            coefficients: vec![0.0; p],
            std: vec![0.0; p],
            alpha: vec![f64::INFINITY; p],
            retained: Vec::new(),
            intercept: self.target_mean,
            noise_precision: if variance > 0.0 {
                1.0 / variance
            } else {
                f64::INFINITY
            },
            log_evidence: f64::NAN,
            normalised_error: if variance > 0.0 { 1.0 } else { 0.0 },
            ..self.clone()
        }
    }

    /// (name, coefficient, std) of the retained terms.
    pub fn terms(&self) -> Vec<(String, f64, f64)> {
        self.retained
            .iter()
            .map(|&i| (self.names[i].clone(), self.coefficients[i], self.std[i]))
            .collect()
    }

    /// Against a known answer: (exactly the expected terms retained, worst relative error of
    /// an expected coefficient; a missed term counts as 100 %).
    pub fn compare(&self, expected: &[(String, f64)]) -> (bool, f64) {
        let mut found: Vec<&String> = self.retained.iter().map(|&i| &self.names[i]).collect();
        let mut wanted: Vec<&String> = expected.iter().map(|(t, _)| t).collect();
        found.sort();
        wanted.sort();
        let worst = expected
            .iter()
            .map(|(term, value)| {
                let got = self
                    .names
                    .iter()
                    .position(|n| n == term)
                    .map_or(0.0, |i| self.coefficients[i]);
                (got - value).abs() / value.abs()
            })
            .fold(0.0, f64::max);
        (found == wanted, worst)
    }
}

/// The centred and standardised problem: φ_s = (φ − μ)/s_φ, y_s = (y − ȳ)/s_y, so that
/// y_sᵀy_s = N; `target_scale` = s_y converts back to physical units.
struct Standardised {
    /// Original indices of the kept columns.
    kept: Vec<usize>,
    gram: DMatrix<f64>,
    projection: DVector<f64>,
    /// y_sᵀ y_s
    target_square: f64,
    rows: f64,
    column_scale: Vec<f64>,
    column_mean: Vec<f64>,
    target_scale: f64,
    target_mean: f64,
}

fn standardise(
    stats: &NormalEquations,
    center: bool,
) -> Result<(Option<Standardised>, Vec<DroppedColumn>)> {
    let n = stats.rows as f64;
    let p = stats.columns();
    let names = stats.names();
    let (mu, y_mean) = if center {
        (
            stats.column_sums.iter().map(|s| s / n).collect::<Vec<_>>(),
            stats.target_sum / n,
        )
    } else {
        (vec![0.0; p], 0.0)
    };
    let gram_c = |i: usize, j: usize| stats.gram[[i, j]] - n * mu[i] * mu[j];
    let proj_c = |i: usize| stats.projection[i] - n * mu[i] * y_mean;
    let target_c = stats.target_square - n * y_mean * y_mean;
    let raw_scale: Vec<f64> = (0..p).map(|j| (gram_c(j, j).max(0.0) / n).sqrt()).collect();
    let largest_raw = (0..p)
        .map(|j| (stats.gram[[j, j]] / n).sqrt())
        .fold(0.0, f64::max);
    let mut dropped = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    for j in 0..p {
        // A column whose spread is round-off relative to its own size carries no information.
        let own = (stats.gram[[j, j]] / n).sqrt();
        if own == 0.0 {
            return Err(MedidaError::Regression(format!(
                "ill-posed library: column `{}` is identically zero on these data; remove it",
                names[j]
            )));
        }
        if raw_scale[j] <= 1e-10 * own.max(1e-300) || raw_scale[j] <= 1e-300 || largest_raw == 0.0 {
            dropped.push(DroppedColumn {
                index: j,
                name: names[j].clone(),
                reason: if own == 0.0 {
                    "column is identically zero".into()
                } else {
                    "column is constant (absorbed by the intercept)".into()
                },
            });
            continue;
        }
        let duplicate = kept.iter().find(|&&i| {
            let corr = gram_c(i, j) / (n * raw_scale[i] * raw_scale[j]);
            corr.abs() > 1.0 - 1e-10
        });
        if let Some(&i) = duplicate {
            dropped.push(DroppedColumn {
                index: j,
                name: names[j].clone(),
                reason: format!("column duplicates `{}` (correlation ±1)", names[i]),
            });
            continue;
        }
        kept.push(j);
    }
    if kept.len() > stats.rows {
        return Err(MedidaError::Regression(format!(
            "ill-posed library: {} columns but only {} rows; use fewer terms or more data",
            kept.len(),
            stats.rows
        )));
    }
    dependent_columns(&kept, names, |i, j| {
        gram_c(i, j) / (n * raw_scale[i] * raw_scale[j])
    })?;
    let target_scale = (target_c.max(0.0) / n).sqrt();
    let target_own = (stats.target_square / n).sqrt();
    if kept.is_empty() || target_scale <= 1e-14 * target_own.max(1e-300) || target_scale == 0.0 {
        return Ok((None, dropped));
    }
    let k = kept.len();
    let gram = DMatrix::from_fn(k, k, |a, b| {
        let (i, j) = (kept[a], kept[b]);
        gram_c(i, j) / (raw_scale[i] * raw_scale[j])
    });
    let projection = DVector::from_fn(k, |a, _| {
        proj_c(kept[a]) / (raw_scale[kept[a]] * target_scale)
    });
    Ok((
        Some(Standardised {
            column_scale: kept.iter().map(|&j| raw_scale[j]).collect(),
            column_mean: kept.iter().map(|&j| mu[j]).collect(),
            kept,
            gram,
            projection,
            target_square: target_c / (target_scale * target_scale),
            rows: n,
            target_scale,
            target_mean: y_mean,
        }),
        dropped,
    ))
}

/// A column whose variance left after regressing it on the earlier columns is below this
/// fraction of its own is a linear combination of them (1 − R² < 1e-10).
pub const DEPENDENT: f64 = 1e-10;

/// Columns (in library order) that are linear combinations of earlier ones, found by a
/// Cholesky factorisation of their correlation matrix in that order; an error naming them.
fn dependent_columns(
    kept: &[usize],
    names: &[String],
    correlation: impl Fn(usize, usize) -> f64,
) -> Result<()> {
    let k = kept.len();
    let mut l = DMatrix::<f64>::zeros(k, k);
    let mut independent: Vec<usize> = Vec::new();
    let mut dependent: Vec<String> = Vec::new();
    for a in 0..k {
        // Row a of L against the independent columns so far; what is left is 1 − R².
        let mut left = correlation(kept[a], kept[a]);
        for (b_pos, &b) in independent.iter().enumerate() {
            let mut v = correlation(kept[a], kept[b]);
            for &c in &independent[..b_pos] {
                v -= l[(a, c)] * l[(b, c)];
            }
            let value = v / l[(b, b)];
            l[(a, b)] = value;
            left -= value * value;
        }
        if left < DEPENDENT {
            // Its coefficients on the independent columns: Lᵀβ = l (triangular, backwards).
            let m = independent.len();
            let mut beta = vec![0.0; m];
            for p in (0..m).rev() {
                let mut v = l[(a, independent[p])];
                for q in p + 1..m {
                    v -= l[(independent[q], independent[p])] * beta[q];
                }
                beta[p] = v / l[(independent[p], independent[p])];
            }
            let largest = beta.iter().fold(0.0f64, |x, b| x.max(b.abs()));
            let partners: Vec<String> = independent
                .iter()
                .zip(&beta)
                .filter(|(_, b)| b.abs() > 1e-6 * largest)
                .map(|(&c, _)| format!("`{}`", names[kept[c]]))
                .collect();
            dependent.push(format!(
                "`{}` = a combination of {} (1 − R² = {:.0e})",
                names[kept[a]],
                partners.join(", "),
                left.max(0.0)
            ));
        } else {
            l[(a, a)] = left.sqrt();
            independent.push(a);
        }
    }
    if dependent.is_empty() {
        return Ok(());
    }
    Err(MedidaError::Regression(format!(
        "ill-posed library: on these data {} of the {k} columns {} a linear combination of other columns: {}; remove one column of each combination, or add data that tell them apart",
        dependent.len(),
        if dependent.len() == 1 { "is" } else { "are" },
        dependent.join("; "),
    )))
}

/// Posterior of the weights of an active set: mean m, Σ's diagonal, log|H|, residual.
struct Posterior {
    mean: DVector<f64>,
    chol: Cholesky<f64, nalgebra::Dyn>,
    sigma_diag: Vec<f64>,
    log_det_h: f64,
    residual: f64,
}

fn posterior(
    problem: &Standardised,
    active: &[usize],
    alpha: &[f64],
    beta: f64,
) -> Result<Posterior> {
    let k = active.len();
    let sub_gram = DMatrix::from_fn(k, k, |a, b| problem.gram[(active[a], active[b])]);
    let sub_proj = DVector::from_fn(k, |a, _| problem.projection[active[a]]);
    let mut h = &sub_gram * beta;
    for a in 0..k {
        h[(a, a)] += alpha[active[a]];
    }
    // H is positive definite in exact arithmetic; round-off with a huge β can break that, so
    // add the smallest diagonal jitter that restores a factorisation.
    let trace = (0..k).map(|a| h[(a, a)]).sum::<f64>() / k.max(1) as f64;
    let mut jitter = 0.0;
    let chol = loop {
        let mut hj = h.clone();
        for a in 0..k {
            hj[(a, a)] += jitter;
        }
        if let Some(c) = Cholesky::new(hj) {
            break c;
        }
        jitter = if jitter == 0.0 {
            1e-14 * trace
        } else {
            jitter * 10.0
        };
        if !jitter.is_finite() || jitter > trace {
            return Err(MedidaError::Regression(
                "posterior precision matrix is not positive definite: the columns are too collinear".into(),
            ));
        }
    };
    let mean = chol.solve(&(sub_proj.clone() * beta));
    let l = chol.l();
    let log_det_h = 2.0 * (0..k).map(|a| l[(a, a)].ln()).sum::<f64>();
    // diag(Σ) = diag(H⁻¹) = squared column norms of L⁻¹.
    let l_inv = l
        .solve_lower_triangular(&DMatrix::identity(k, k))
        .expect("L has a positive diagonal");
    let sigma_diag = (0..k)
        .map(|b| (0..k).map(|a| l_inv[(a, b)].powi(2)).sum())
        .collect();
    let residual = (problem.target_square - 2.0 * mean.dot(&sub_proj)
        + mean.dot(&(&sub_gram * &mean)))
    .max(1e-14 * problem.target_square);
    Ok(Posterior {
        mean,
        chol,
        sigma_diag,
        log_det_h,
        residual,
    })
}

fn log_evidence(
    problem: &Standardised,
    active: &[usize],
    alpha: &[f64],
    beta: f64,
    post: &Posterior,
) -> f64 {
    let n = problem.rows;
    let prior: f64 = active
        .iter()
        .enumerate()
        .map(|(a, &i)| alpha[i] * post.mean[a].powi(2))
        .sum();
    let log_alpha: f64 = active.iter().map(|&i| alpha[i].ln()).sum();
    -0.5 * (n * (2.0 * std::f64::consts::PI).ln() - n * beta.ln()
        + beta * post.residual
        + prior
        + post.log_det_h
        - log_alpha)
}

/// β = (N − Σγ)/‖y − Φm‖², with γ_i = 1 − α_iΣ_ii for the α that produced `post`; capped
/// so that noise-free data cannot drive β to overflow.
fn update_beta(problem: &Standardised, active: &[usize], alpha: &[f64], post: &Posterior) -> f64 {
    let gamma: f64 = active
        .iter()
        .enumerate()
        .map(|(a, &i)| 1.0 - alpha[i] * post.sigma_diag[a])
        .sum();
    ((problem.rows - gamma).max(1e-12) / post.residual).min(MAX_RELATIVE_PRECISION)
}

/// Largest noise precision of the standardised target (whose variance is 1): a relative
/// noise level of 1e-7, so that noise-free data cannot drive β to overflow.
const MAX_RELATIVE_PRECISION: f64 = 1e14;

/// Fits the RVM on accumulated statistics.
pub fn fit(stats: &NormalEquations, settings: &RvmSettings) -> Result<RvmFit> {
    if settings.prune_alpha.is_nan()
        || settings.prune_alpha <= 0.0
        || !settings.prune_alpha.is_finite()
    {
        return Err(MedidaError::Regression(format!(
            "prune_alpha = {} must be positive and finite",
            settings.prune_alpha
        )));
    }
    if settings.tolerance.is_nan() || settings.tolerance <= 0.0 {
        return Err(MedidaError::Regression(format!(
            "tolerance = {} must be positive",
            settings.tolerance
        )));
    }
    if stats.rows < 2 {
        return Err(MedidaError::Regression(format!(
            "{} rows: need at least 2 rows to fit",
            stats.rows
        )));
    }
    let p = stats.columns();
    let (problem, dropped) = standardise(stats, settings.center)?;
    let n = stats.rows as f64;
    let target_mean = if settings.center {
        stats.target_sum / n
    } else {
        0.0
    };
    let target_variance = (stats.target_square / n - target_mean * target_mean).max(0.0);
    let mut fit = RvmFit {
        names: stats.names().to_vec(),
        coefficients: vec![0.0; p],
        std: vec![0.0; p],
        alpha: vec![f64::INFINITY; p],
        retained: Vec::new(),
        dropped,
        intercept: target_mean,
        noise_precision: f64::INFINITY,
        log_evidence: f64::NAN,
        normalised_error: 0.0,
        iterations: 0,
        converged: true,
        rows: stats.rows,
        target_mean,
        target_variance,
    };
    // Nothing left to fit with, or a constant target: the empty model, its noise the
    // target's own spread (zero, exact, for a constant target).
    let Some(problem) = problem else {
        return Ok(fit.without_terms());
    };
    let (active, alpha, beta, iterations, converged) = match settings.method {
        RvmMethod::Reestimate => reestimate(&problem, settings)?,
        RvmMethod::Fast => fast(&problem, settings)?,
    };
    fit.iterations = iterations;
    fit.converged = converged;
    if active.is_empty() {
        fit.noise_precision = 1.0 / problem.target_scale.powi(2);
        fit.normalised_error = 1.0;
        return Ok(fit);
    }
    let post = posterior(&problem, &active, &alpha, beta)?;
    fit.log_evidence = log_evidence(&problem, &active, &alpha, beta, &post);
    let unit = problem.target_scale;
    fit.noise_precision = beta / (unit * unit);
    fit.normalised_error = post.residual / problem.target_square;
    let mut intercept = if settings.center {
        problem.target_mean
    } else {
        0.0
    };
    for (a, &i) in active.iter().enumerate() {
        let column = problem.kept[i];
        let scale = unit / problem.column_scale[i];
        fit.coefficients[column] = post.mean[a] * scale;
        fit.std[column] = post.sigma_diag[a].sqrt() * scale;
        fit.alpha[column] = alpha[i];
        intercept -= fit.coefficients[column] * problem.column_mean[i];
        fit.retained.push(column);
    }
    fit.retained.sort_unstable();
    fit.intercept = intercept;
    Ok(fit)
}

type Outcome = (Vec<usize>, Vec<f64>, f64, usize, bool);

/// MacKay/Tipping re-estimation; α indexed by kept column, pruned ones set to ∞.
fn reestimate(problem: &Standardised, settings: &RvmSettings) -> Result<Outcome> {
    let k = problem.kept.len();
    // Prior std of each standardised weight = the target's spread, noise its variance: 1.
    let mut alpha = vec![1.0; k];
    let mut beta = 1.0;
    let mut active: Vec<usize> = (0..k).collect();
    for iteration in 1..=settings.max_iterations {
        let post = posterior(problem, &active, &alpha, beta)?;
        beta = update_beta(problem, &active, &alpha, &post);
        let mut max_change: f64 = 0.0;
        let mut next_active = Vec::with_capacity(active.len());
        for (a, &i) in active.iter().enumerate() {
            let gamma = 1.0 - alpha[i] * post.sigma_diag[a];
            let new_alpha = gamma.max(0.0) / post.mean[a].powi(2).max(1e-300);
            max_change = max_change.max((new_alpha - alpha[i]).abs());
            alpha[i] = new_alpha;
            if new_alpha > settings.prune_alpha || !new_alpha.is_finite() {
                alpha[i] = f64::INFINITY;
            } else {
                next_active.push(i);
            }
        }
        let pruned = next_active.len() < active.len();
        active = next_active;
        if active.is_empty() {
            return Ok((active, alpha, beta, iteration, true));
        }
        if !pruned && max_change < settings.tolerance {
            return Ok((active, alpha, beta, iteration, true));
        }
    }
    Ok((active, alpha, beta, settings.max_iterations, false))
}

/// Tipping & Faul (2003) fast marginal-likelihood maximisation.
fn fast(problem: &Standardised, settings: &RvmSettings) -> Result<Outcome> {
    let k = problem.kept.len();
    let n = problem.rows;
    let mut alpha = vec![f64::INFINITY; k];
    // Initial noise: 10 % of the target's spread (Tipping's SparseBayes default).
    let mut beta = 1.0 / (0.1f64.powi(2) * problem.target_square / n);
    // Start from the column best aligned with the target.
    let first = (0..k)
        .max_by(|&a, &b| {
            let score = |i: usize| problem.projection[i].powi(2) / problem.gram[(i, i)];
            score(a).total_cmp(&score(b))
        })
        .expect("at least one column");
    let norm = problem.gram[(first, first)];
    let q2 = problem.projection[first].powi(2) / norm;
    alpha[first] = norm / (q2 / norm - 1.0 / beta).max(1e-12 * norm);
    let mut active = vec![first];
    for iteration in 1..=settings.max_iterations {
        let post = posterior(problem, &active, &alpha, beta)?;
        // Sparsity S_i and quality Q_i factors for every column, via the Woodbury identity.
        let mut best: Option<(f64, usize, Action)> = None;
        let mut converged = true;
        // G_A· (active rows, all columns) and Σ G_A· from one multi-column Cholesky solve.
        let g_active = DMatrix::from_fn(active.len(), k, |a, i| problem.gram[(active[a], i)]);
        let sigma_g = post.chol.solve(&g_active);
        #[allow(clippy::needless_range_loop)] // i indexes the Gram matrix too
        for i in 0..k {
            let g_ia = g_active.column(i);
            let big_s = beta * problem.gram[(i, i)] - beta * beta * g_ia.dot(&sigma_g.column(i));
            let big_q = beta * problem.projection[i] - beta * g_ia.dot(&post.mean);
            let in_model = alpha[i].is_finite();
            let (s, q) = if in_model {
                let d = alpha[i] - big_s;
                (alpha[i] * big_s / d, alpha[i] * big_q / d)
            } else {
                (big_s, big_q)
            };
            let theta = q * q - s;
            let (gain, action) = if theta > 0.0 {
                let new_alpha = s * s / theta;
                if in_model {
                    let delta = 1.0 / new_alpha - 1.0 / alpha[i];
                    let gain = big_q * big_q / (big_s + 1.0 / delta) - (1.0 + big_s * delta).ln();
                    // Tipping & Faul / SparseBayes: converged when no log α moves by 1e-3.
                    if (new_alpha / alpha[i]).ln().abs() > 1e-3 {
                        converged = false;
                    }
                    (gain, Action::Reestimate(new_alpha))
                } else {
                    converged = false;
                    let gain = (big_q * big_q - big_s) / big_s + (big_s / (big_q * big_q)).ln();
                    (gain, Action::Add(new_alpha))
                }
            } else if in_model && active.len() > 1 {
                converged = false;
                let gain = big_q * big_q / (big_s - alpha[i]) - (1.0 - big_s / alpha[i]).ln();
                (gain, Action::Delete)
            } else {
                continue;
            };
            if gain.is_finite() && best.as_ref().is_none_or(|(g, _, _)| gain > *g) {
                best = Some((gain, i, action));
            }
        }
        if converged {
            let (active, alpha) = prune(active, alpha, settings.prune_alpha);
            return Ok((active, alpha, beta, iteration, true));
        }
        if let Some((_, i, action)) = best {
            match action {
                Action::Add(a) => {
                    alpha[i] = a;
                    active.push(i);
                }
                Action::Reestimate(a) => alpha[i] = a,
                Action::Delete => {
                    alpha[i] = f64::INFINITY;
                    active.retain(|&j| j != i);
                }
            }
        }
        let post = posterior(problem, &active, &alpha, beta)?;
        beta = update_beta(problem, &active, &alpha, &post);
    }
    let (active, alpha) = prune(active, alpha, settings.prune_alpha);
    Ok((active, alpha, beta, settings.max_iterations, false))
}

enum Action {
    Add(f64),
    Reestimate(f64),
    Delete,
}

/// Removes weights whose precision exceeds the threshold, as the re-estimation does.
fn prune(active: Vec<usize>, mut alpha: Vec<f64>, prune_alpha: f64) -> (Vec<usize>, Vec<f64>) {
    let kept = active
        .into_iter()
        .filter(|&i| {
            let keep = alpha[i] <= prune_alpha;
            if !keep {
                alpha[i] = f64::INFINITY;
            }
            keep
        })
        .collect();
    (kept, alpha)
}
