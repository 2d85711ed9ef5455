//! Blocked Cholesky factorisation and multi-right-hand-side solves for the symmetric positive
//! definite matrices of the analysis (SᵀS + (m−1)I, SSᵀ + (m−1)I). The O(n³) work runs in
//! matrixmultiply's dgemm; right-hand sides are solved in parallel blocks of columns, so the
//! bits do not depend on the thread count.

use crate::error::{MedidaError, Result};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Rows and columns per diagonal block.
const BLOCK: usize = 64;
/// Right-hand-side columns per parallel task.
const RHS_BLOCK: usize = 64;

/// The lower Cholesky factor L (A = L Lᵀ) of a symmetric positive definite matrix, stored in
/// the lower triangle of a column-major matrix.
pub struct Cholesky {
    factor: DMatrix<f64>,
}

/// C ← C − A·Bᵀ or C − Aᵀ·B on raw column-major blocks with leading dimension `ld`.
///
/// SAFETY (callers): pointers and extents must describe blocks inside their matrices.
#[allow(clippy::too_many_arguments)]
unsafe fn subtract_product(
    rows: usize,
    inner: usize,
    cols: usize,
    a: *const f64,
    a_strides: (isize, isize),
    b: *const f64,
    b_strides: (isize, isize),
    c: *mut f64,
    ld_c: isize,
) {
    if rows == 0 || inner == 0 || cols == 0 {
        return;
    }
    matrixmultiply::dgemm(
        rows,
        inner,
        cols,
        -1.0,
        a,
        a_strides.0,
        a_strides.1,
        b,
        b_strides.0,
        b_strides.1,
        1.0,
        c,
        1,
        ld_c,
    );
}

impl Cholesky {
    /// Factors `matrix` (only its lower triangle is read). A matrix that is not positive
    /// definite, or not finite, is an error naming the pivot.
    pub fn new(mut matrix: DMatrix<f64>) -> Result<Self> {
        let n = matrix.nrows();
        assert_eq!(n, matrix.ncols(), "Cholesky needs a square matrix");
        let ld = n as isize;
        let mut k0 = 0;
        while k0 < n {
            let k1 = (k0 + BLOCK).min(n);
            // Diagonal block and the panel below it, column by column (left-looking inside
            // the block; earlier blocks were already subtracted by the trailing updates).
            for j in k0..k1 {
                for l in k0..j {
                    let ljl = matrix[(j, l)];
                    if ljl != 0.0 {
                        let (left, right) = matrix.as_mut_slice().split_at_mut(j * n);
                        let source = &left[l * n + j..l * n + n];
                        let target = &mut right[j..n];
                        for (t, s) in target.iter_mut().zip(source) {
                            *t -= ljl * s;
                        }
                    }
                }
                let pivot = matrix[(j, j)];
                if !(pivot.is_finite() && pivot > 0.0) {
                    return Err(MedidaError::Assimilation(format!(
                        "the analysis matrix is not positive definite (pivot {j} is {pivot}): \
                         non-finite ensemble or observations?"
                    )));
                }
                let d = pivot.sqrt();
                matrix[(j, j)] = d;
                for i in j + 1..n {
                    matrix[(i, j)] /= d;
                }
            }
            // Trailing update A22 ← A22 − L21 L21ᵀ.
            let rest = n - k1;
            if rest > 0 {
                let base = matrix.as_mut_ptr();
                // SAFETY: L21 is rows k1..n, columns k0..k1; A22 is rows/cols k1..n; all
                // inside the n × n matrix with leading dimension n.
                unsafe {
                    let l21 = base.add(k0 * n + k1) as *const f64;
                    subtract_product(
                        rest,
                        k1 - k0,
                        rest,
                        l21,
                        (1, ld),
                        l21,
                        (ld, 1),
                        base.add(k1 * n + k1),
                        ld,
                    );
                }
            }
            k0 = k1;
        }
        Ok(Cholesky { factor: matrix })
    }

    /// Solves A X = B in place (B is n × r), blocks of right-hand sides in parallel.
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
        rhs.as_mut_slice()
            .par_chunks_mut(RHS_BLOCK * n)
            .for_each(|block| self.solve_block(block, block.len() / n));
    }

    /// Forward (L Y = B) then backward (Lᵀ X = Y) substitution on `cols` contiguous columns.
    fn solve_block(&self, block: &mut [f64], cols: usize) {
        let n = self.factor.nrows();
        let l = self.factor.as_slice();
        let ld = n as isize;
        let mut k0 = 0;
        while k0 < n {
            let k1 = (k0 + BLOCK).min(n);
            for c in 0..cols {
                let x = &mut block[c * n..(c + 1) * n];
                for j in k0..k1 {
                    let v = x[j] / l[j * n + j];
                    x[j] = v;
                    for i in j + 1..k1 {
                        x[i] -= l[j * n + i] * v;
                    }
                }
            }
            if k1 < n {
                // SAFETY: L rows k1..n, cols k0..k1; block rows k0..k1 and k1..n of `cols`
                // columns with leading dimension n.
                unsafe {
                    let base = block.as_mut_ptr();
                    subtract_product(
                        n - k1,
                        k1 - k0,
                        cols,
                        l.as_ptr().add(k0 * n + k1),
                        (1, ld),
                        base.add(k0) as *const f64,
                        (1, ld),
                        base.add(k1),
                        ld,
                    );
                }
            }
            k0 = k1;
        }
        let mut k1 = n;
        while k1 > 0 {
            let k0 = k1.saturating_sub(BLOCK);
            for c in 0..cols {
                let x = &mut block[c * n..(c + 1) * n];
                for j in (k0..k1).rev() {
                    let mut v = x[j];
                    for i in j + 1..k1 {
                        v -= l[j * n + i] * x[i];
                    }
                    x[j] = v / l[j * n + j];
                }
            }
            if k0 > 0 {
                // Rows 0..k0 ← rows 0..k0 − L[k0..k1, 0..k0]ᵀ · X[k0..k1].
                // SAFETY: as above, with the transposed block of L.
                unsafe {
                    let base = block.as_mut_ptr();
                    subtract_product(
                        k0,
                        k1 - k0,
                        cols,
                        l.as_ptr().add(k0),
                        (ld, 1),
                        base.add(k0) as *const f64,
                        (1, ld),
                        base,
                        ld,
                    );
                }
            }
            k1 = k0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_solve_matches_nalgebra_across_block_edges() {
        for n in [1, 5, 64, 65, 150] {
            let b = DMatrix::from_fn(n, n, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0);
            let a = &b * b.transpose() + DMatrix::identity(n, n) * n as f64;
            let rhs = DMatrix::from_fn(n, 70, |i, j| ((i + 3 * j) % 5) as f64 - 2.0);
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
    fn indefinite_matrix_is_an_error() {
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(Cholesky::new(a).is_err());
    }
}
