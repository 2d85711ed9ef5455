//! Streaming accumulation of the sufficient statistics of a linear regression y ≈ Φw:
//! ΦᵀΦ, Φᵀy, yᵀy, the column and target sums (for centring) and the row count. Memory does
//! not grow with the number of samples; rows can optionally be retained for residuals/plots.

use crate::error::{MedidaError, Result};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Rows per parallel block: large enough for an efficient GEMM, small enough to split.
const BLOCK_ROWS: usize = 65_536;

/// Sufficient statistics of one block of rows.
struct BlockStatistics {
    gram: Array2<f64>,
    projection: Array1<f64>,
    target_square: f64,
    column_sums: Array1<f64>,
    target_sum: f64,
}

#[derive(Clone, Debug)]
pub struct NormalEquations {
    names: Vec<String>,
    /// ΦᵀΦ
    pub gram: Array2<f64>,
    /// Φᵀy
    pub projection: Array1<f64>,
    /// yᵀy
    pub target_square: f64,
    /// Σ_rows Φ
    pub column_sums: Array1<f64>,
    /// Σ_rows y
    pub target_sum: f64,
    pub rows: usize,
    retained: Option<(Vec<f64>, Vec<f64>)>,
}

impl NormalEquations {
    pub fn new(names: Vec<String>) -> Self {
        let p = names.len();
        NormalEquations {
            names,
            gram: Array2::zeros((p, p)),
            projection: Array1::zeros(p),
            target_square: 0.0,
            column_sums: Array1::zeros(p),
            target_sum: 0.0,
            rows: 0,
            retained: None,
        }
    }

    /// Also keep every row (for residuals and plots); memory then grows with the data.
    pub fn retaining_rows(mut self) -> Self {
        self.retained = Some((Vec::new(), Vec::new()));
        self
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn columns(&self) -> usize {
        self.names.len()
    }

    /// Retained rows (rows × columns, targets), if asked for.
    pub fn retained(&self) -> Option<(Array2<f64>, Array1<f64>)> {
        self.retained.as_ref().map(|(x, y)| {
            let rows = y.len();
            (
                Array2::from_shape_vec((rows, self.columns()), x.clone()).expect("shape kept"),
                Array1::from(y.clone()),
            )
        })
    }

    /// Adds a block of rows. NaN/inf anywhere is an error naming the row (of this block).
    pub fn add(&mut self, columns: ArrayView2<f64>, target: ArrayView1<f64>) -> Result<()> {
        let (rows, p) = columns.dim();
        if p != self.columns() {
            return Err(MedidaError::Data(format!(
                "block has {p} columns but the regression has {} terms",
                self.columns()
            )));
        }
        if target.len() != rows {
            return Err(MedidaError::Data(format!(
                "block has {rows} rows but the target has {} values",
                target.len()
            )));
        }
        // Each block's statistics in one parallel pass; a NaN/inf anywhere shows up on the
        // diagonal of ΦᵀΦ or in yᵀy (x² of a non-finite x is non-finite), and only then are
        // the rows scanned to name the culprit. Nothing is added before the check.
        let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
        let blocks: Vec<BlockStatistics> = {
            use rayon::prelude::*;
            starts
                .par_iter()
                .map(|&start| {
                    let end = (start + BLOCK_ROWS).min(rows);
                    let x = columns.slice(s![start..end, ..]);
                    let y = target.slice(s![start..end]);
                    BlockStatistics {
                        gram: x.t().dot(&x),
                        projection: x.t().dot(&y),
                        target_square: y.dot(&y),
                        column_sums: x.sum_axis(Axis(0)),
                        target_sum: y.sum(),
                    }
                })
                .collect()
        };
        let finite = blocks
            .iter()
            .all(|b| b.target_square.is_finite() && b.gram.diag().iter().all(|v| v.is_finite()));
        if !finite {
            return Err(self.locate_non_finite(columns, target));
        }
        for b in blocks {
            self.gram += &b.gram;
            self.projection += &b.projection;
            self.target_square += b.target_square;
            self.column_sums += &b.column_sums;
            self.target_sum += b.target_sum;
        }
        self.rows += rows;
        if let Some((x, y)) = &mut self.retained {
            x.extend(columns.iter());
            y.extend(target.iter());
        }
        Ok(())
    }

    /// The first non-finite value of a block, target first, as an error naming its row.
    fn locate_non_finite(&self, columns: ArrayView2<f64>, target: ArrayView1<f64>) -> MedidaError {
        if let Some(r) = target.iter().position(|v| !v.is_finite()) {
            return MedidaError::Data(format!("target value in row {r} is not finite"));
        }
        for (r, row) in columns.outer_iter().enumerate() {
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return MedidaError::Data(format!(
                    "column `{}` in row {r} is not finite",
                    self.names[j]
                ));
            }
        }
        MedidaError::Data("the block's statistics overflowed: values too large to square".into())
    }

    /// Merges statistics accumulated elsewhere (e.g. on another thread).
    pub fn merge(&mut self, other: &NormalEquations) -> Result<()> {
        if other.names != self.names {
            return Err(MedidaError::Data(
                "cannot merge regressions over different terms".into(),
            ));
        }
        self.gram += &other.gram;
        self.projection += &other.projection;
        self.target_square += other.target_square;
        self.column_sums += &other.column_sums;
        self.target_sum += other.target_sum;
        self.rows += other.rows;
        if let (Some((x, y)), Some((ox, oy))) = (&mut self.retained, &other.retained) {
            x.extend(ox);
            y.extend(oy);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_batch() {
        let x = Array2::from_shape_fn((1000, 3), |(i, j)| ((i * 7 + j * 13) % 17) as f64 - 8.0);
        let y = Array1::from_shape_fn(1000, |i| (i % 5) as f64);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut one = NormalEquations::new(names.clone());
        one.add(x.view(), y.view()).unwrap();
        let mut many = NormalEquations::new(names);
        for k in 0..10 {
            many.add(
                x.slice(s![k * 100..(k + 1) * 100, ..]),
                y.slice(s![k * 100..(k + 1) * 100]),
            )
            .unwrap();
        }
        assert_eq!(one.rows, many.rows);
        assert!((&one.gram - &many.gram).iter().all(|v| v.abs() < 1e-9));
        assert!((&one.projection - &many.projection)
            .iter()
            .all(|v| v.abs() < 1e-9));
    }

    #[test]
    fn nan_is_an_error_naming_row_and_column() {
        let mut x = Array2::zeros((4, 2));
        x[[2, 1]] = f64::NAN;
        let mut ne = NormalEquations::new(vec!["u".into(), "u_x".into()]);
        let err = ne.add(x.view(), Array1::zeros(4).view()).unwrap_err();
        assert!(
            err.to_string().contains("row 2") && err.to_string().contains("u_x"),
            "{err}"
        );
    }
}
