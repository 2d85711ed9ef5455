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
    if transpose_b && rows >= TRANSPOSE_ROWS && rows * inner * cols >= 1 << 21 {
        // faer's product runs at half its rate with B transposed (measured: 1,024 × 1,000 ×
        // 1,024 in 41 against 22 ms); a copy of Bᵀ costs 1/rows of the product.
        accumulate(c, a, transpose_a, &super::dense::transposed(b), false);
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

/// Rows per panel of [`right_multiply_in_place`].
const PANEL_ROWS: usize = 128;

/// E ← E·M for a square M, in place: each panel of PANEL_ROWS rows of E is copied out (into
/// cache) and multiplied back, panels side by side. No E-sized buffer is allocated or zeroed,
/// and the panels depend on the sizes only, so the bits do not depend on the thread count.
pub fn right_multiply_in_place(e: &mut DMatrix<f64>, m: &DMatrix<f64>) {
    assert_eq!(
        m.nrows(),
        m.ncols(),
        "an in-place product needs a square factor"
    );
    assert_eq!(
        e.ncols(),
        m.nrows(),
        "inner dimensions of a matrix product differ"
    );
    if e.is_empty() {
        return;
    }
    let par = super::dense::parallelism(e.nrows() * m.nrows() * m.ncols()) != Par::Seq;
    panels(super::dense::view_mut(e), super::dense::view(m), par);
}

fn panels(mut rows: MatMut<'_, f64>, m: MatRef<'_, f64>, par: bool) {
    let count = rows.nrows();
    if count > PANEL_ROWS {
        // Split at a multiple of the panel height, so every panel but the last is whole.
        let half = count.div_ceil(2 * PANEL_ROWS) * PANEL_ROWS;
        let (top, bottom) = rows.split_at_row_mut(half);
        if par {
            rayon::join(|| panels(top, m, par), || panels(bottom, m, par));
        } else {
            panels(top, m, par);
            panels(bottom, m, par);
        }
        return;
    }
    let copy = rows.as_ref().to_owned();
    faer::linalg::matmul::matmul(
        rows.as_mut(),
        faer::Accum::Replace,
        copy.as_ref(),
        m,
        1.0,
        Par::Seq,
    );
}

/// Rows of the product from which a transposed B is copied before multiplying.
const TRANSPOSE_ROWS: usize = 32;

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
    if transpose {
        gram_of_columns(s)
    } else {
        gram_of_rows(s)
    }
}

/// Columns of S per block of [`gram_of_rows`].
const GRAM_BLOCK: usize = 256;

/// SSᵀ = Σ_b X_bᵀ X_b over blocks of GRAM_BLOCK columns of S, X_b = S_bᵀ copied: faer's
/// product runs at half its rate when both factors are strided along the summed index
/// (measured: 1,024 × 1,000 in 20–26 ms against 14 ms plus a 2 ms copy), and a block at a
/// time keeps the copy in cache and off fresh pages. The blocks depend on the sizes only.
fn gram_of_rows(s: &DMatrix<f64>) -> DMatrix<f64> {
    let (size, inner) = s.shape();
    if inner <= GRAM_BLOCK {
        return gram_of_columns(&super::dense::transposed(s));
    }
    let mut c = DMatrix::zeros(size, size);
    let mut scratch = DMatrix::zeros(0, 0);
    for first in (0..inner).step_by(GRAM_BLOCK) {
        let width = GRAM_BLOCK.min(inner - first);
        let block = &s.as_slice()[first * size..(first + width) * size];
        add_lower_gram(&mut c, block, &mut scratch);
    }
    mirror_lower(&mut c);
    c
}

/// The lower triangle of C ← C + S_b S_bᵀ for a block S_b of columns, held column-major in
/// `block` with C's row count (C's upper triangle untouched): the step of [`gram_of_rows`],
/// for callers that form the blocks themselves. `scratch` receives X_b = S_bᵀ (reshaped only
/// when its shape differs, so one buffer serves every block; a caller may use X_b after).
pub fn add_lower_gram(c: &mut DMatrix<f64>, block: &[f64], scratch: &mut DMatrix<f64>) {
    let size = c.nrows();
    assert_eq!(size, c.ncols(), "a Gram matrix is square");
    if size == 0 {
        return;
    }
    assert!(
        block.len().is_multiple_of(size),
        "the block does not fit the Gram matrix"
    );
    super::dense::transpose_into(block, size, scratch);
    let width = scratch.nrows();
    if width == 0 {
        return;
    }
    let x = super::dense::view(scratch);
    lower_product(
        super::dense::view_mut(c),
        x.transpose(),
        x,
        faer::Accum::Add,
        super::dense::parallelism(size * size * width / 2),
    );
}

/// C_{:, first..} ← C_{:, first..} + A·B for the columns of C that B has.
pub fn accumulate_columns(c: &mut DMatrix<f64>, first: usize, a: &DMatrix<f64>, b: &DMatrix<f64>) {
    let (rows, cols) = (c.nrows(), b.ncols());
    assert_eq!(a.nrows(), rows, "product does not fit its destination");
    assert_eq!(
        a.ncols(),
        b.nrows(),
        "inner dimensions of a matrix product differ"
    );
    assert!(
        first + cols <= c.ncols(),
        "product does not fit its destination"
    );
    if rows == 0 || cols == 0 || a.ncols() == 0 {
        return;
    }
    let destination = &mut c.as_mut_slice()[first * rows..(first + cols) * rows];
    faer::linalg::matmul::matmul(
        MatMut::from_column_major_slice_mut(destination, rows, cols),
        faer::Accum::Add,
        super::dense::view(a),
        super::dense::view(b),
        1.0,
        super::dense::parallelism(rows * a.ncols() * cols),
    );
}

/// SᵀS.
fn gram_of_columns(s: &DMatrix<f64>) -> DMatrix<f64> {
    let size = s.ncols();
    let mut c = DMatrix::zeros(size, size);
    let sv = super::dense::view(s);
    let (left, right) = (sv.transpose(), sv);
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
                lower_product(
                    top,
                    left.subrows(0, h),
                    right.subcols(0, h),
                    faer::Accum::Replace,
                    Par::Seq,
                );
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
                    faer::Accum::Replace,
                    Par::Seq,
                )
            },
        );
    } else {
        let par = super::dense::parallelism(work);
        lower_product(
            super::dense::view_mut(&mut c),
            left,
            right,
            faer::Accum::Replace,
            par,
        );
    }
    mirror_lower(&mut c);
    c
}

/// The lower triangle of left · right into a square `destination` (its upper triangle untouched).
fn lower_product(
    destination: MatMut<'_, f64>,
    left: MatRef<'_, f64>,
    right: MatRef<'_, f64>,
    accum: faer::Accum,
    par: Par,
) {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    matmul(
        destination,
        BlockStructure::TriangularLower,
        accum,
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
        // Large enough for the copied Bᵀ (small integers: every summation order is exact).
        let d = DMatrix::from_fn(64, 200, |i, j| ((i * 3 + j) % 7) as f64 - 3.0);
        let e = DMatrix::from_fn(300, 200, |i, j| ((i + 5 * j) % 9) as f64 - 4.0);
        assert_eq!(product(&d, false, &e, true), &d * e.transpose());
        assert_eq!(product(&d.transpose(), true, &e, true), &d * e.transpose());
    }

    #[test]
    fn right_multiply_in_place_matches_the_product() {
        // Heights below, at and across panel boundaries (one, two and five panels).
        for rows in [1, 100, 128, 300, 600] {
            let e = DMatrix::from_fn(rows, 40, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
            let m = DMatrix::from_fn(40, 40, |i, j| ((i * 5 + j) % 13) as f64 * 0.5);
            let mut in_place = e.clone();
            right_multiply_in_place(&mut in_place, &m);
            assert_eq!(in_place, &e * &m, "{rows} rows");
        }
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
        // SSᵀ summed over blocks of columns, the last one partial.
        let wide = DMatrix::from_fn(40, 2 * GRAM_BLOCK + 37, |i, j| {
            ((i * 5 + j * 3) % 9) as f64 - 4.0
        });
        assert_eq!(gram(&wide, false), &wide * wide.transpose());
    }
}
