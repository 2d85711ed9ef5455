//! What the filters' dense linear algebra shares: zero-copy faer views of nalgebra matrices,
//! the choice of parallelism, the symmetric eigen-decomposition, and mirroring of symmetric
//! results computed in one triangle.

use crate::error::{MedidaError, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd;
use faer::{MatMut, MatRef, Par};
use nalgebra::DMatrix;

/// faer's parallelism for an operation of `work` multiply-adds: every thread of the current
/// rayon pool, or none for work too small to repay waking them (≈ 50 µs of one core). The
/// choice depends on the sizes only, and faer gives the same bits either way.
pub(crate) fn parallelism(work: usize) -> Par {
    if work < 1 << 21 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// A column-major nalgebra matrix seen by faer (no copy).
pub(crate) fn view(matrix: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(matrix.as_slice(), matrix.nrows(), matrix.ncols())
}

/// A mutable faer view of a column-major nalgebra matrix.
pub(crate) fn view_mut(matrix: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (rows, cols) = matrix.shape();
    MatMut::from_column_major_slice_mut(matrix.as_mut_slice(), rows, cols)
}

/// Copies the lower triangle of a square column-major matrix onto its upper triangle, in
/// tiles so that both the reads and the writes stay in cache.
pub(crate) fn mirror_lower(c: &mut DMatrix<f64>) {
    const TILE: usize = 32;
    let size = c.nrows();
    let data = c.as_mut_slice();
    for j0 in (0..size).step_by(TILE) {
        for i0 in (j0..size).step_by(TILE) {
            for j in j0..(j0 + TILE).min(size) {
                for i in i0.max(j + 1)..(i0 + TILE).min(size) {
                    data[i * size + j] = data[j * size + i];
                }
            }
        }
    }
}

/// The transpose of a column-major matrix, in tiles so that both the reads and the writes
/// stay in cache, bands of output columns in parallel (a copy: the bits are the input's).
pub(crate) fn transposed(matrix: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(matrix.ncols(), matrix.nrows());
    transpose_into(matrix.as_slice(), matrix.nrows(), &mut out);
    out
}

/// [`transposed`] of the column-major `rows` × (len / rows) matrix held by `source`, into
/// `out` (reshaped only when its shape differs, so a buffer can serve block after block).
pub(crate) fn transpose_into(source: &[f64], rows: usize, out: &mut DMatrix<f64>) {
    use rayon::prelude::*;
    const TILE: usize = 16;
    let cols = source.len().checked_div(rows).unwrap_or(0);
    if out.shape() != (cols, rows) {
        *out = DMatrix::zeros(cols, rows);
    }
    if rows == 0 || cols == 0 {
        return;
    }
    // Output column i is input row i: a band of TILE output columns per task.
    out.as_mut_slice()
        .par_chunks_mut(TILE * cols)
        .enumerate()
        .with_min_len(4)
        .for_each(|(band, chunk)| {
            let first = band * TILE;
            let width = chunk.len() / cols;
            for j0 in (0..cols).step_by(TILE) {
                let j1 = (j0 + TILE).min(cols);
                for r in 0..width {
                    let column = &mut chunk[r * cols..(r + 1) * cols];
                    for (j, x) in column[j0..j1].iter_mut().enumerate() {
                        *x = source[(j0 + j) * rows + first + r];
                    }
                }
            }
        });
}

/// Below this size nalgebra's implicit QR beats faer's decomposition (measured here, one
/// thread: 40 × 40 in 0.10 against 1.0 ms, 200 × 200 in 5.4 against 14.7 ms, even at 400;
/// faer 3× faster at 1,000): the LETKF's local analyses are all small.
const SMALL_EIGEN: usize = 300;

/// Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix, of
/// which only the lower triangle is read: nalgebra's implicit symmetric QR for small
/// matrices, faer's blocked tridiagonalisation and divide and conquer for large ones; both
/// on one thread so the bits never depend on the thread count.
pub(crate) fn symmetric_eigen(matrix: &DMatrix<f64>) -> Result<(Vec<f64>, DMatrix<f64>)> {
    let n = matrix.nrows();
    assert_eq!(
        n,
        matrix.ncols(),
        "an eigen-decomposition needs a square matrix"
    );
    if matrix.iter().any(|v| !v.is_finite()) {
        return Err(MedidaError::Assimilation(
            "the analysis matrix has non-finite entries: non-finite ensemble or observations?"
                .into(),
        ));
    }
    if n < SMALL_EIGEN {
        // nalgebra reads both triangles.
        let mut full = matrix.clone();
        mirror_lower(&mut full);
        let eigen =
            nalgebra::linalg::SymmetricEigen::try_new(full, f64::EPSILON, 0).ok_or_else(|| {
                MedidaError::Assimilation(
                    "the eigen-decomposition of the analysis matrix did not converge".into(),
                )
            })?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[a].total_cmp(&eigen.eigenvalues[b]));
        let values = order.iter().map(|&k| eigen.eigenvalues[k]).collect();
        let vectors = DMatrix::from_fn(n, n, |i, j| eigen.eigenvectors[(i, order[j])]);
        return Ok((values, vectors));
    }
    let par = Par::Seq;
    let params = Default::default();
    let mut values = faer::diag::Diag::<f64>::zeros(n);
    let mut vectors = DMatrix::zeros(n, n);
    let mut memory = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::Yes,
        par,
        params,
    ));
    evd::self_adjoint_evd(
        view(matrix),
        values.as_mut(),
        Some(view_mut(&mut vectors)),
        par,
        MemStack::new(&mut memory),
        params,
    )
    .map_err(|error| {
        MedidaError::Assimilation(format!(
            "the eigen-decomposition of the analysis matrix did not converge ({error:?})"
        ))
    })?;
    let values = (0..n).map(|k| values[k]).collect();
    Ok((values, vectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_matches_nalgebra() {
        for (rows, cols) in [(1, 1), (3, 40), (17, 33), (64, 16), (100, 1)] {
            let a = DMatrix::from_fn(rows, cols, |i, j| (i * 1000 + j) as f64);
            assert_eq!(transposed(&a), a.transpose(), "{rows} x {cols}");
        }
    }

    /// Both paths (small: nalgebra; large: faer), from the lower triangle alone.
    #[test]
    fn eigen_decomposition_reconstructs_its_matrix() {
        for n in [70, SMALL_EIGEN + 10] {
            let b = DMatrix::from_fn(n, n, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0);
            let a = &b + b.transpose();
            let mut lower = a.clone();
            for j in 0..n {
                for i in 0..j {
                    lower[(i, j)] = 1e300; // never read
                }
            }
            let (values, vectors) = symmetric_eigen(&lower).unwrap();
            let rebuilt =
                &vectors * DMatrix::from_diagonal(&values.clone().into()) * vectors.transpose();
            assert!((&rebuilt - &a).norm() <= 1e-12 * a.norm(), "n = {n}");
            let identity = DMatrix::identity(n, n);
            assert!(
                (vectors.transpose() * &vectors - identity).norm() <= 1e-11,
                "n = {n}"
            );
            assert!(values.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
