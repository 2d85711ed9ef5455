//! Cholesky factorisation and multi-right-hand-side solves for the symmetric positive
//! definite matrices of the analysis (SᵀS + (m−1)I, SSᵀ + (m−1)I), on faer's blocked,
//! recursive kernels. faer splits parallel work over output blocks whose sizes depend on the
//! matrix only, so the bits do not depend on the thread count (tested in
//! `tests/assimilation.rs`).

use super::dense::{parallelism, view, view_mut};
use crate::error::{MedidaError, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::{Accum, Par};
use nalgebra::DMatrix;

/// The lower Cholesky factor L (A = L Lᵀ) of a symmetric positive definite matrix, stored in
/// the lower triangle of a column-major matrix.
pub struct Cholesky {
    factor: DMatrix<f64>,
}

impl Cholesky {
    /// Factors `matrix` (only its lower triangle is read). A matrix that is not positive
    /// definite, or not finite, is an error naming the pivot.
    pub fn new(mut matrix: DMatrix<f64>) -> Result<Self> {
        let n = matrix.nrows();
        assert_eq!(n, matrix.ncols(), "Cholesky needs a square matrix");
        if let Some(k) = lower_entries(&matrix).find(|v| !v.is_finite()) {
            return Err(MedidaError::Assimilation(format!(
                "the analysis matrix has a non-finite entry ({k}): non-finite ensemble or \
                 observations?"
            )));
        }
        if n < SMALL_CHOLESKY {
            // nalgebra's unblocked factorisation reads the lower triangle only; a matrix it
            // refuses goes on to faer's, which names the failing pivot.
            if let Some(factor) = nalgebra::Cholesky::new(matrix.clone()) {
                return Ok(Cholesky {
                    factor: factor.unpack_dirty(),
                });
            }
        }
        let par = parallelism(n * n * n / 3);
        let params = Default::default();
        let mut memory = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(
            n, par, params,
        ));
        llt::factor::cholesky_in_place(
            view_mut(&mut matrix),
            Default::default(),
            par,
            MemStack::new(&mut memory),
            params,
        )
        .map_err(|error| {
            let llt::factor::LltError::NonPositivePivot { index } = error;
            MedidaError::Assimilation(format!(
                "the analysis matrix is not positive definite (pivot {index}): degenerate \
                 ensemble or observations?"
            ))
        })?;
        Ok(Cholesky { factor: matrix })
    }

    /// Solves A X = B in place (B is n × r).
    pub fn solve_in_place(&self, rhs: &mut DMatrix<f64>) {
        let n = self.factor.nrows();
        assert_eq!(
            rhs.nrows(),
            n,
            "right-hand side has the wrong number of rows"
        );
        if n == 0 || rhs.ncols() == 0 {
            return;
        }
        if n > SOLVE_BLOCK && rhs.ncols() >= SOLVE_BLOCK {
            self.blocked_solve(rhs);
            return;
        }
        let par = parallelism(n * n * rhs.ncols());
        let mut memory = MemBuffer::new(llt::solve::solve_in_place_scratch::<f64>(
            n,
            rhs.ncols(),
            par,
        ));
        llt::solve::solve_in_place(
            view(&self.factor),
            view_mut(rhs),
            par,
            MemStack::new(&mut memory),
        );
    }

    /// L Lᵀ X = B for many right-hand sides, nearly all of it in matrix products: with the
    /// inverses D_k of L's diagonal blocks, Y_k = D_k (B_k − L_{k,<k} Y_{<k}) and then
    /// X_k = D_kᵀ (Y_k − L_{>k,k}ᵀ X_{>k}), block rows of SOLVE_BLOCK. Y goes to a second
    /// buffer and X back into B, so no block is copied. (faer's recursive triangular solve
    /// runs at ≈ 70 % of its matrix-product rate on these shapes.)
    fn blocked_solve(&self, rhs: &mut DMatrix<f64>) {
        let n = self.factor.nrows();
        let r = rhs.ncols();
        let blocks: Vec<(usize, usize)> = (0..n)
            .step_by(SOLVE_BLOCK)
            .map(|start| (start, SOLVE_BLOCK.min(n - start)))
            .collect();
        let l = view(&self.factor);
        let inverses: Vec<faer::Mat<f64>> = blocks
            .iter()
            .map(|&(start, size)| {
                let mut inverse = faer::Mat::<f64>::identity(size, size);
                faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                    l.submatrix(start, start, size, size),
                    inverse.as_mut(),
                    Par::Seq,
                );
                inverse
            })
            .collect();
        let par = parallelism(n * SOLVE_BLOCK * r);
        let mut y = faer::Mat::<f64>::zeros(n, r);
        let mut b = view_mut(rhs);
        for (&(start, size), inverse) in blocks.iter().zip(&inverses) {
            if start > 0 {
                matmul(
                    b.as_mut().subrows_mut(start, size),
                    Accum::Add,
                    l.submatrix(start, 0, size, start),
                    y.as_ref().subrows(0, start),
                    -1.0,
                    par,
                );
            }
            matmul(
                y.as_mut().subrows_mut(start, size),
                Accum::Replace,
                inverse.as_ref(),
                b.as_ref().subrows(start, size),
                1.0,
                par,
            );
        }
        for (&(start, size), inverse) in blocks.iter().zip(&inverses).rev() {
            let end = start + size;
            if end < n {
                matmul(
                    y.as_mut().subrows_mut(start, size),
                    Accum::Add,
                    l.submatrix(end, start, n - end, size).transpose(),
                    b.as_ref().subrows(end, n - end),
                    -1.0,
                    par,
                );
            }
            matmul(
                b.as_mut().subrows_mut(start, size),
                Accum::Replace,
                inverse.transpose(),
                y.as_ref().subrows(start, size),
                1.0,
                par,
            );
        }
    }
}

/// Below this size nalgebra's unblocked Cholesky beats faer's blocked one (measured here,
/// one thread: 100 × 100 in 60 against 130 µs, 200 × 200 in 335 against 414 µs; faer ahead
/// from ≈ 250).
const SMALL_CHOLESKY: usize = 200;

/// Block rows of the blocked multi-right-hand-side solve (and the fewest right-hand sides
/// for which it is used).
const SOLVE_BLOCK: usize = 128;

impl Cholesky {
    /// The factor L in the lower triangle; the strict upper triangle is not part of it (it
    /// holds what the matrix had there, or leftovers): for products that read the lower
    /// triangle only.
    pub fn into_factor(self) -> DMatrix<f64> {
        self.factor
    }

    /// The inverse A⁻¹ = L⁻ᵀ L⁻¹, symmetric, both triangles filled.
    pub fn inverse(&self) -> DMatrix<f64> {
        let n = self.factor.nrows();
        let par = parallelism(n * n * n);
        let mut inverse = DMatrix::zeros(n, n);
        let mut memory = MemBuffer::new(llt::inverse::inverse_scratch::<f64>(n, par));
        llt::inverse::inverse(
            view_mut(&mut inverse),
            view(&self.factor),
            par,
            MemStack::new(&mut memory),
        );
        super::dense::mirror_lower(&mut inverse);
        inverse
    }
}

/// The entries of the lower triangle, column by column.
fn lower_entries(matrix: &DMatrix<f64>) -> impl Iterator<Item = f64> + '_ {
    let n = matrix.nrows();
    matrix
        .as_slice()
        .chunks_exact(n.max(1))
        .enumerate()
        .flat_map(|(j, column)| column[j..].iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_matches_nalgebra() {
        // 70 right-hand sides: faer's solve; 300: the blocked one (one or three block rows).
        for (n, r) in [
            (1, 70),
            (5, 70),
            (64, 70),
            (65, 70),
            (150, 70),
            (150, 300),
            (300, 300),
        ] {
            let b = DMatrix::from_fn(n, n, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0);
            let a = &b * b.transpose() + DMatrix::identity(n, n) * n as f64;
            let rhs = DMatrix::from_fn(n, r, |i, j| ((i + 3 * j) % 5) as f64 - 2.0);
            let expected = a.clone().cholesky().unwrap().solve(&rhs);
            let mut x = rhs.clone();
            Cholesky::new(a).unwrap().solve_in_place(&mut x);
            assert!(
                (&x - &expected).norm() <= 1e-12 * expected.norm().max(1.0),
                "n = {n}"
            );
        }
    }

    #[test]
    fn inverse_matches_nalgebra() {
        let b = DMatrix::from_fn(90, 90, |i, j| {
            (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0
        });
        let a = &b * b.transpose() + DMatrix::identity(90, 90) * 90.0;
        let expected = a.clone().try_inverse().unwrap();
        let inverse = Cholesky::new(a).unwrap().inverse();
        assert!((&inverse - &expected).norm() <= 1e-13 * expected.norm());
    }

    #[test]
    fn indefinite_or_non_finite_matrix_is_an_error() {
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(Cholesky::new(a).is_err());
        let b = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, f64::NAN, 1.0]);
        let message = Cholesky::new(b).err().unwrap().to_string();
        assert!(message.contains("non-finite"), "{message}");
    }
}
