//! Products of ensemble-sized matrices: matrixmultiply's dgemm on fixed blocks of output
//! columns, spread over rayon. Every output entry sums the same terms in the same order
//! whatever the thread count, so results are bit-identical on 1 or many threads.

use nalgebra::DMatrix;
use rayon::prelude::*;

/// Output columns per parallel task (fixed, so the split never depends on the thread count).
const COLUMN_BLOCK: usize = 64;

/// op(A)·op(B) for column-major matrices, op = transpose when the flag is set.
pub fn product(
    a: &DMatrix<f64>,
    transpose_a: bool,
    b: &DMatrix<f64>,
    transpose_b: bool,
) -> DMatrix<f64> {
    let rows = if transpose_a { a.ncols() } else { a.nrows() };
    let cols = if transpose_b { b.nrows() } else { b.ncols() };
    let mut c = DMatrix::zeros(rows, cols);
    accumulate(&mut c, a, transpose_a, b, transpose_b);
    c
}

/// C ← C + op(A)·op(B).
pub fn accumulate(
    c: &mut DMatrix<f64>,
    a: &DMatrix<f64>,
    transpose_a: bool,
    b: &DMatrix<f64>,
    transpose_b: bool,
) {
    let (rows, inner) = if transpose_a {
        (a.ncols(), a.nrows())
    } else {
        (a.nrows(), a.ncols())
    };
    let (inner_b, cols) = if transpose_b {
        (b.ncols(), b.nrows())
    } else {
        (b.nrows(), b.ncols())
    };
    assert_eq!(
        inner, inner_b,
        "inner dimensions of a matrix product differ"
    );
    assert_eq!(
        c.shape(),
        (rows, cols),
        "product does not fit its destination"
    );
    if rows == 0 || cols == 0 || inner == 0 {
        return;
    }
    let (row_stride_a, col_stride_a) = if transpose_a {
        (a.nrows() as isize, 1)
    } else {
        (1, a.nrows() as isize)
    };
    let (row_stride_b, col_stride_b) = if transpose_b {
        (b.nrows() as isize, 1)
    } else {
        (1, b.nrows() as isize)
    };
    c.as_mut_slice()
        .par_chunks_mut(COLUMN_BLOCK * rows)
        .enumerate()
        .for_each(|(block, c_block)| {
            let first = block * COLUMN_BLOCK;
            let block_cols = c_block.len() / rows;
            let b_offset = if transpose_b {
                first
            } else {
                first * b.nrows()
            };
            let a_slice = a.as_slice();
            let b_slice = &b.as_slice()[b_offset..];
            // SAFETY: the strides describe `a`, `b` and this column block of `c` exactly:
            // op(A) is rows × inner, the columns first..first+block_cols of op(B) start at
            // `b_offset`, and `c_block` holds block_cols contiguous columns of `rows` entries.
            unsafe {
                matrixmultiply::dgemm(
                    rows,
                    inner,
                    block_cols,
                    1.0,
                    a_slice.as_ptr(),
                    row_stride_a,
                    col_stride_a,
                    b_slice.as_ptr(),
                    row_stride_b,
                    col_stride_b,
                    1.0,
                    c_block.as_mut_ptr(),
                    1,
                    rows as isize,
                );
            }
        });
}

/// The symmetric Gram matrix SᵀS (`transpose` set) or SSᵀ of a column-major matrix, as a
/// symmetric rank-k update: faer computes the lower triangle only (half a full product), which
/// is then mirrored.
pub fn gram(s: &DMatrix<f64>, transpose: bool) -> DMatrix<f64> {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    let size = if transpose { s.ncols() } else { s.nrows() };
    let mut c = DMatrix::zeros(size, size);
    let sv = super::cholesky::view(s);
    let (left, right) = if transpose {
        (sv.transpose(), sv)
    } else {
        (sv, sv.transpose())
    };
    matmul(
        super::cholesky::view_mut(&mut c),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        left,
        BlockStructure::Rectangular,
        right,
        BlockStructure::Rectangular,
        1.0,
        super::cholesky::parallelism(),
    );
    for j in 0..size {
        for i in j + 1..size {
            c[(j, i)] = c[(i, j)];
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_matches_nalgebra_for_every_transpose() {
        let a = DMatrix::from_fn(70, 45, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = DMatrix::from_fn(70, 90, |i, j| ((i * 5 + j) % 13) as f64 * 0.5);
        let c = DMatrix::from_fn(45, 90, |i, j| ((i + 2 * j) % 7) as f64);
        assert_eq!(product(&a, true, &b, false), a.transpose() * &b);
        assert_eq!(product(&a, false, &c, false), &a * &c);
        assert_eq!(product(&b, true, &a, false), b.transpose() * &a);
        assert_eq!(product(&c, false, &b, true), &c * b.transpose());
    }

    #[test]
    fn gram_matches_the_full_product() {
        let a = DMatrix::from_fn(70, 45, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        // Small integers: every ordering of the sums is exact, so equality is the test.
        assert_eq!(gram(&a, true), a.transpose() * &a);
        assert_eq!(gram(&a, false), &a * a.transpose());
    }
}
