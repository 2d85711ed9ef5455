//! Streaming accumulation of the sufficient statistics of a linear regression y ≈ Φw:
//! ΦᵀΦ, Φᵀy, yᵀy, the column and target sums (for centring) and the row count. Memory does
//! not grow with the number of samples; rows can optionally be retained for residuals/plots.

use crate::error::{MedidaError, Result};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

/// Rows per parallel block: its padded copy (32 columns: 512 KiB) stays in cache.
const BLOCK_ROWS: usize = 2048;

/// Lanes per tile of the Gram kernel (one AVX-512 register, two AVX2 ones).
const LANES: usize = 8;

/// One block's statistics in one read of its rows. With Z = [Φ | y | 1] copied row by row into
/// a buffer padded to a multiple of 8 columns, ZᵀZ holds ΦᵀΦ, Φᵀy, Φᵀ1, yᵀy and yᵀ1. ZᵀZ is
/// built tile by tile (8 × 8 entries kept in registers while the rows stream past, lower
/// tiles only), a register-blocked kernel that keeps the 25-column case efficient where a
/// general GEMM wastes its panels.
/// `buffer` is the thread's reusable copy space: its padding columns are zero and stay zero.
fn block_statistics(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    buffer: &mut Vec<f64>,
) -> BlockStatistics {
    let (rows, p) = x.dim();
    let width = p + 2;
    let tiles = width.div_ceil(LANES);
    let stride = tiles * LANES;
    if buffer.len() < rows * stride {
        buffer.resize(rows * stride, 0.0);
    }
    let z = &mut buffer[..rows * stride];
    match x.as_slice() {
        Some(contiguous) if p > 0 => {
            for ((padded, row), target) in z
                .chunks_exact_mut(stride)
                .zip(contiguous.chunks_exact(p))
                .zip(y)
            {
                padded[..p].copy_from_slice(row);
                padded[p] = *target;
                padded[p + 1] = 1.0;
            }
        }
        _ => {
            for ((padded, row), target) in z.chunks_exact_mut(stride).zip(x.outer_iter()).zip(y) {
                for (z, v) in padded.iter_mut().zip(row.iter()) {
                    *z = *v;
                }
                padded[p] = *target;
                padded[p + 1] = 1.0;
            }
        }
    }
    let mut product = vec![0.0; stride * stride];
    gram_tiles_dispatch(z, stride, &mut product);
    let at = |i: usize, j: usize| product[i * stride + j];
    BlockStatistics {
        gram: Array2::from_shape_fn((p, p), |(i, j)| at(i, j)),
        projection: Array1::from_shape_fn(p, |j| at(j, p)),
        target_square: at(p, p),
        column_sums: Array1::from_shape_fn(p, |j| at(j, p + 1)),
        target_sum: at(p, p + 1),
    }
}

/// ZᵀZ of a row-major, zero-padded block `z` (rows of `stride` = 8·k entries) into `product`
/// (stride × stride), with the widest vector instructions this CPU has (checked at run time,
/// so one binary runs everywhere).
fn gram_tiles_dispatch(z: &[f64], stride: usize, product: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected on this CPU.
            return unsafe { gram_tiles_avx512(z, stride, product) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { gram_tiles_avx2(z, stride, product) };
        }
    }
    gram_tiles::<false>(z, stride, product)
}

/// The kernel with AVX-512 intrinsics: per lower tile, one register per tile column holds its
/// eight sums while the rows stream past (a fused multiply-add of the row's eight entries of
/// the tile's rows by a broadcast entry). Written out rather than left to the
/// auto-vectoriser: built with `target-cpu=native`, the generic kernel was inlined into a
/// loop that kept the 64 sums on the stack, 6× slower (BENCHMARKS.md). The sums are formed in
/// the generic kernel's order, so both give the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn gram_tiles_avx512(z: &[f64], stride: usize, product: &mut [f64]) {
    use std::arch::x86_64::*;
    let tiles = stride / LANES;
    let rows = z.len() / stride;
    for ti in 0..tiles {
        for tj in 0..=ti {
            let mut acc = [_mm512_setzero_pd(); LANES];
            for r in 0..rows {
                let row = &z[r * stride..(r + 1) * stride];
                // SAFETY: the tile lies inside the row (stride = tiles · LANES).
                let a = unsafe { _mm512_loadu_pd(row.as_ptr().add(ti * LANES)) };
                let b = &row[tj * LANES..(tj + 1) * LANES];
                for (column, &bj) in acc.iter_mut().zip(b) {
                    *column = _mm512_fmadd_pd(a, _mm512_set1_pd(bj), *column);
                }
            }
            let mut tile = [[0.0f64; LANES]; LANES];
            for (column, sums) in tile.iter_mut().zip(&acc) {
                // SAFETY: a column holds LANES f64.
                unsafe { _mm512_storeu_pd(column.as_mut_ptr(), *sums) };
            }
            store_tile(&tile, ti, tj, stride, product);
        }
    }
}

/// The kernel with AVX2 intrinsics: as the AVX-512 one, each tile column in two registers,
/// four tile columns at a time (twelve registers in use of sixteen).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gram_tiles_avx2(z: &[f64], stride: usize, product: &mut [f64]) {
    use std::arch::x86_64::*;
    const HALF: usize = LANES / 2;
    let tiles = stride / LANES;
    let rows = z.len() / stride;
    for ti in 0..tiles {
        for tj in 0..=ti {
            let mut tile = [[0.0f64; LANES]; LANES];
            for part in 0..2 {
                let mut low = [_mm256_setzero_pd(); HALF];
                let mut high = [_mm256_setzero_pd(); HALF];
                for r in 0..rows {
                    let row = &z[r * stride..(r + 1) * stride];
                    // SAFETY: the tile lies inside the row.
                    let (a0, a1) = unsafe {
                        let at = row.as_ptr().add(ti * LANES);
                        (_mm256_loadu_pd(at), _mm256_loadu_pd(at.add(HALF)))
                    };
                    let b = &row[tj * LANES + part * HALF..tj * LANES + (part + 1) * HALF];
                    for ((l, h), &bj) in low.iter_mut().zip(high.iter_mut()).zip(b) {
                        let bj = _mm256_set1_pd(bj);
                        *l = _mm256_fmadd_pd(a0, bj, *l);
                        *h = _mm256_fmadd_pd(a1, bj, *h);
                    }
                }
                for (k, (l, h)) in low.iter().zip(&high).enumerate() {
                    let column = &mut tile[part * HALF + k];
                    // SAFETY: a column holds LANES = 2 · HALF f64.
                    unsafe {
                        _mm256_storeu_pd(column.as_mut_ptr(), *l);
                        _mm256_storeu_pd(column.as_mut_ptr().add(HALF), *h);
                    }
                }
            }
            store_tile(&tile, ti, tj, stride, product);
        }
    }
}

/// Writes tile (ti, tj) (column-wise: tile[jj][ii]) and its mirror into the product.
#[inline(always)]
fn store_tile(
    tile: &[[f64; LANES]; LANES],
    ti: usize,
    tj: usize,
    stride: usize,
    product: &mut [f64],
) {
    for (jj, column) in tile.iter().enumerate() {
        for (ii, value) in column.iter().enumerate() {
            let (i, j) = (ti * LANES + ii, tj * LANES + jj);
            product[i * stride + j] = *value;
            product[j * stride + i] = *value;
        }
    }
}

/// The portable kernel: for each lower 8 × 8 tile of ZᵀZ, the 64 sums kept while the rows
/// stream past. `FUSED` uses fused multiply-adds (the SIMD kernels' arithmetic, for the tests).
fn gram_tiles<const FUSED: bool>(z: &[f64], stride: usize, product: &mut [f64]) {
    let tiles = stride / LANES;
    for ti in 0..tiles {
        for tj in 0..=ti {
            let mut tile = [[0.0f64; LANES]; LANES];
            for padded in z.chunks_exact(stride) {
                let a: &[f64; LANES] = padded[ti * LANES..(ti + 1) * LANES]
                    .try_into()
                    .expect("tile width");
                let b = &padded[tj * LANES..(tj + 1) * LANES];
                for (column, &bj) in tile.iter_mut().zip(b) {
                    for (acc, &ai) in column.iter_mut().zip(a) {
                        *acc = if FUSED {
                            ai.mul_add(bj, *acc)
                        } else {
                            *acc + ai * bj
                        };
                    }
                }
            }
            store_tile(&tile, ti, tj, stride, product);
        }
    }
}

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
                .map_init(Vec::new, |buffer, &start| {
                    let end = (start + BLOCK_ROWS).min(rows);
                    block_statistics(
                        columns.slice(s![start..end, ..]),
                        target.slice(s![start..end]),
                        buffer,
                    )
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

    /// Centred least squares of the target on the columns `support`; None when the system
    /// is singular or not finite.
    pub fn least_squares_on(&self, support: &[usize]) -> Option<Vec<f64>> {
        let n = self.rows as f64;
        if n == 0.0 {
            return None;
        }
        let k = support.len();
        let gram = nalgebra::DMatrix::from_fn(k, k, |a, b| {
            let (i, j) = (support[a], support[b]);
            self.gram[[i, j]] - self.column_sums[i] * self.column_sums[j] / n
        });
        let rhs = nalgebra::DVector::from_fn(k, |a, _| {
            let i = support[a];
            self.projection[i] - self.column_sums[i] * self.target_sum / n
        });
        let solution = gram.cholesky()?.solve(&rhs);
        solution
            .iter()
            .all(|v| v.is_finite())
            .then(|| solution.iter().copied().collect())
    }

    /// Adds `weight` copies of other statistics over the same terms (a bootstrap draw);
    /// retained rows are not copied.
    pub fn merge_scaled(&mut self, other: &NormalEquations, weight: usize) {
        debug_assert_eq!(self.names, other.names);
        let w = weight as f64;
        self.gram.scaled_add(w, &other.gram);
        self.projection.scaled_add(w, &other.projection);
        self.target_square += w * other.target_square;
        self.column_sums.scaled_add(w, &other.column_sums);
        self.target_sum += w * other.target_sum;
        self.rows += weight * other.rows;
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

    /// Each SIMD kernel this CPU runs gives the portable fused kernel's bits.
    #[test]
    fn simd_kernels_give_the_portable_kernels_bits() {
        for stride in [8, 16, 32] {
            let rows = 301;
            let z: Vec<f64> = (0..rows * stride)
                .map(|k| ((k * 2654435761usize) % 1000) as f64 / 333.0 - 1.5)
                .collect();
            let mut portable = vec![0.0; stride * stride];
            gram_tiles::<true>(&z, stride, &mut portable);
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                    let mut simd = vec![0.0; stride * stride];
                    // SAFETY: the features were detected on this CPU.
                    unsafe { gram_tiles_avx512(&z, stride, &mut simd) };
                    assert_eq!(simd, portable, "AVX-512, stride {stride}");
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    let mut simd = vec![0.0; stride * stride];
                    // SAFETY: as above.
                    unsafe { gram_tiles_avx2(&z, stride, &mut simd) };
                    assert_eq!(simd, portable, "AVX2, stride {stride}");
                }
            }
        }
    }

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
    fn statistics_equal_direct_sums_for_any_width_and_layout() {
        for p in [1, 5, 6, 7, 9, 25, 31] {
            let x = Array2::from_shape_fn((2500, p), |(i, j)| ((i * 31 + j * 7) % 19) as f64 - 9.0);
            let y = Array1::from_shape_fn(2500, |i| ((i * 3) % 11) as f64 - 5.0);
            let names: Vec<String> = (0..p).map(|j| format!("c{j}")).collect();
            // A row-major block and a column-major (non-contiguous rows) view of the same data.
            let column_major = x.t().as_standard_layout().into_owned().reversed_axes();
            for view in [x.view(), column_major.view()] {
                let mut ne = NormalEquations::new(names.clone());
                ne.add(view, y.view()).unwrap();
                // Integer-valued data: every sum is exact in f64, so equality is exact.
                assert_eq!(ne.gram, x.t().dot(&x), "p = {p}");
                assert_eq!(ne.projection, x.t().dot(&y));
                assert_eq!(ne.column_sums, x.sum_axis(ndarray::Axis(0)));
                assert_eq!(ne.target_square, y.dot(&y));
                assert_eq!(ne.target_sum, y.sum());
            }
        }
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
