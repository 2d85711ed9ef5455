//! Products of ensemble-sized matrices on faer's dgemm (AVX-512 kernels where the CPU has
//! them), spread over the rayon pool. faer splits the work over output blocks only, never
//! over the summed dimension, so every output entry sums the same terms in the same order
//! whatever the thread count: results are bit-identical on 1 or many threads (tested in
//! `tests/assimilation.rs`).

use super::dense::mirror_lower;
use faer::{MatMut, MatRef, Par};
use nalgebra::DMatrix;

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
    let a = super::dense::view(a);
    let b = super::dense::view(b);
    faer::linalg::matmul::matmul(
        super::dense::view_mut(c),
        faer::Accum::Add,
        if transpose_a { a.transpose() } else { a },
        if transpose_b { b.transpose() } else { b },
        1.0,
        super::dense::parallelism(rows * inner * cols),
    );
}

/// L·B for a lower-triangular L (its strict upper triangle is not read): half the work of
/// a full product.
pub fn lower_times(l: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    assert_eq!(l.nrows(), l.ncols(), "a triangular factor is square");
    assert_eq!(
        l.ncols(),
        b.nrows(),
        "inner dimensions of a matrix product differ"
    );
    let mut c = DMatrix::zeros(l.nrows(), b.ncols());
    if c.is_empty() {
        return c;
    }
    let work = l.nrows() * l.nrows() * b.ncols() / 2;
    matmul(
        super::dense::view_mut(&mut c),
        BlockStructure::Rectangular,
        faer::Accum::Replace,
        super::dense::view(l),
        BlockStructure::TriangularLower,
        super::dense::view(b),
        BlockStructure::Rectangular,
        1.0,
        super::dense::parallelism(work),
    );
    c
}

/// The symmetric Gram matrix SᵀS (`transpose` set) or SSᵀ of a column-major matrix, as a
/// symmetric rank-k update: faer computes the lower triangle only (half a full product), which
/// is then mirrored.
pub fn gram(s: &DMatrix<f64>, transpose: bool) -> DMatrix<f64> {
    let size = if transpose { s.ncols() } else { s.nrows() };
    let mut c = DMatrix::zeros(size, size);
    let sv = super::dense::view(s);
    let (left, right) = if transpose {
        (sv.transpose(), sv)
    } else {
        (sv, sv.transpose())
    };
    let work = size * size * left.ncols() / 2;
    if (1 << 21..1 << 25).contains(&work) {
        // Mid-sized (≈ 100 members): two single-threaded pieces of equal work side by
        // side, the columns before h ≈ 0.29·size (a triangle and a rectangle) and the
        // triangle after; ≈ 0.05 ms less than faer's own split in a 0.85 ms analysis. The
        // pieces depend on the sizes only, so the bits do not depend on the thread count.
        let h = (size as f64 * (1.0 - std::f64::consts::FRAC_1_SQRT_2)).round() as usize;
        let rest = size - h;
        let c = super::dense::view_mut(&mut c);
        let (first, second) = c.split_at_col_mut(h);
        let (top, bottom) = first.split_at_row_mut(h);
        let (_, corner) = second.split_at_row_mut(h);
        rayon::join(
            || {
                lower_product(top, left.subrows(0, h), right.subcols(0, h), Par::Seq);
                faer::linalg::matmul::matmul(
                    bottom,
                    faer::Accum::Replace,
                    left.subrows(h, rest),
                    right.subcols(0, h),
                    1.0,
                    Par::Seq,
                );
            },
            || {
                lower_product(
                    corner,
                    left.subrows(h, rest),
                    right.subcols(h, rest),
                    Par::Seq,
                )
            },
        );
    } else {
        let par = super::dense::parallelism(work);
        lower_product(super::dense::view_mut(&mut c), left, right, par);
    }
    mirror_lower(&mut c);
    c
}

/// The lower triangle of left · right into a square `destination` (its upper triangle untouched).
fn lower_product(
    destination: MatMut<'_, f64>,
    left: MatRef<'_, f64>,
    right: MatRef<'_, f64>,
    par: Par,
) {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    matmul(
        destination,
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        left,
        BlockStructure::Rectangular,
        right,
        BlockStructure::Rectangular,
        1.0,
        par,
    );
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
    fn lower_times_reads_the_lower_triangle_only() {
        let l = DMatrix::from_fn(150, 150, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = DMatrix::from_fn(150, 40, |i, j| ((i * 5 + j) % 13) as f64 * 0.5);
        let lower = DMatrix::from_fn(150, 150, |i, j| if i >= j { l[(i, j)] } else { 0.0 });
        assert_eq!(lower_times(&l, &b), &lower * &b);
    }

    #[test]
    fn gram_matches_the_full_product() {
        let a = DMatrix::from_fn(70, 45, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        // Small integers: every ordering of the sums is exact, so equality is the test.
        assert_eq!(gram(&a, true), a.transpose() * &a);
        assert_eq!(gram(&a, false), &a * a.transpose());
        // Sizes that take the two-piece split.
        let b = DMatrix::from_fn(300, 200, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        assert_eq!(gram(&b, true), b.transpose() * &b);
        assert_eq!(gram(&b, false), &b * b.transpose());
    }
}
