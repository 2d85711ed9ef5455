//! Doubly periodic 2-D spectral grid on [−Lx/2, Lx/2) × [−Ly/2, Ly/2): real FFTs along x
//! (rows), complex FFTs along y (columns), plans and scratch built once. Physical fields are
//! ny × nx, row-major (a[j·nx + i] at x_i, y_j); spectra are ny × (nx/2 + 1), row-major, the
//! layout of numpy's `rfft2` on a (ny, nx) array, unnormalised forward transform.

use crate::error::{positive, Result, SolverError};
use crate::real_fft::RealFft;
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::ops::Range;
use std::sync::Arc;

pub struct Spectral2d {
    nx: usize,
    ny: usize,
    lx: f64,
    ly: f64,
    /// k_i = 2π i / Lx, i = 0..nx/2.
    k: Vec<f64>,
    /// l_j = 2π j' / Ly with j' = 0..ny/2−1, −ny/2..−1 (numpy order).
    l: Vec<f64>,
    /// The rows' real transforms (medida's, with vectorised pair maps).
    rows_fft: RealFft,
    column_forward: Arc<dyn Fft<f64>>,
    column_inverse: Arc<dyn Fft<f64>>,
    real_row: Vec<f64>,
    complex_row: Vec<Complex64>,
    /// Columns transposed to contiguous signals ((nx/2+1) × ny), transformed as one batch.
    columns: Vec<Complex64>,
    /// Row-major staging of a spectrum for the inverse transform.
    rows: Vec<Complex64>,
    column_scratch: Vec<Complex64>,
}

impl Clone for Spectral2d {
    fn clone(&self) -> Self {
        Spectral2d {
            nx: self.nx,
            ny: self.ny,
            lx: self.lx,
            ly: self.ly,
            k: self.k.clone(),
            l: self.l.clone(),
            rows_fft: self.rows_fft.clone(),
            column_forward: Arc::clone(&self.column_forward),
            column_inverse: Arc::clone(&self.column_inverse),
            real_row: self.real_row.clone(),
            complex_row: self.complex_row.clone(),
            columns: self.columns.clone(),
            rows: self.rows.clone(),
            column_scratch: self.column_scratch.clone(),
        }
    }
}

impl Spectral2d {
    /// Plans an nx × ny grid (both even, ≥ 4) on a domain of Lx × Ly.
    pub fn new(nx: usize, ny: usize, lx: f64, ly: f64) -> Result<Self> {
        for (name, n) in [("nx", nx), ("ny", ny)] {
            if n < 4 || n % 2 != 0 {
                return Err(SolverError::Grid(format!(
                    "{name} = {n}: need an even number of points, at least 4"
                )));
            }
        }
        positive("Lx", lx)?;
        positive("Ly", ly)?;
        let rows_fft = RealFft::new(nx)?;
        let mut planner = FftPlanner::<f64>::new();
        let column_forward = planner.plan_fft_forward(ny);
        let column_inverse = planner.plan_fft_inverse(ny);
        let kx = nx / 2 + 1;
        let k = (0..kx).map(|i| 2.0 * PI * i as f64 / lx).collect();
        let l = (0..ny)
            .map(|j| {
                let j = if j < ny / 2 {
                    j as f64
                } else {
                    j as f64 - ny as f64
                };
                2.0 * PI * j / ly
            })
            .collect();
        let scratch = column_forward
            .get_inplace_scratch_len()
            .max(column_inverse.get_inplace_scratch_len());
        Ok(Spectral2d {
            nx,
            ny,
            lx,
            ly,
            k,
            l,
            real_row: vec![0.0; nx],
            complex_row: vec![Complex64::new(0.0, 0.0); kx],
            columns: vec![Complex64::new(0.0, 0.0); kx * ny],
            rows: vec![Complex64::new(0.0, 0.0); kx * ny],
            column_scratch: vec![Complex64::new(0.0, 0.0); scratch],
            rows_fft,
            column_forward,
            column_inverse,
        })
    }

    pub fn nx(&self) -> usize {
        self.nx
    }
    pub fn ny(&self) -> usize {
        self.ny
    }
    pub fn lx(&self) -> f64 {
        self.lx
    }
    pub fn ly(&self) -> f64 {
        self.ly
    }
    /// Spectral columns per row, nx/2 + 1.
    pub fn kx(&self) -> usize {
        self.nx / 2 + 1
    }
    /// Physical size ny·nx.
    pub fn points(&self) -> usize {
        self.nx * self.ny
    }
    /// Spectral size ny·(nx/2 + 1).
    pub fn modes(&self) -> usize {
        self.ny * self.kx()
    }
    pub fn k(&self) -> &[f64] {
        &self.k
    }
    pub fn l(&self) -> &[f64] {
        &self.l
    }
    pub fn x(&self) -> Vec<f64> {
        (0..self.nx)
            .map(|i| -self.lx / 2.0 + self.lx * i as f64 / self.nx as f64)
            .collect()
    }
    pub fn y(&self) -> Vec<f64> {
        (0..self.ny)
            .map(|j| -self.ly / 2.0 + self.ly * j as f64 / self.ny as f64)
            .collect()
    }

    /// True for the Nyquist row or column, where odd derivatives are set to zero.
    pub fn is_nyquist(&self, row: usize, column: usize) -> bool {
        row == self.ny / 2 || column == self.nx / 2
    }

    /// Unnormalised forward transform of a physical field.
    #[inline(always)]
    pub fn forward(&mut self, field: &[f64], spectrum: &mut [Complex64]) {
        let kx = self.kx();
        for (row, out) in field
            .chunks_exact(self.nx)
            .zip(spectrum.chunks_exact_mut(kx))
        {
            self.real_row.copy_from_slice(row);
            self.rows_fft.forward(&mut self.real_row, out);
        }
        self.columns_transform(spectrum, true);
    }

    /// Inverse transform, normalised so that inverse(forward(a)) = a. `spectrum` is kept.
    #[inline(always)]
    pub fn inverse(&mut self, spectrum: &[Complex64], field: &mut [f64]) {
        let kx = self.kx();
        let (nx, ny) = (self.nx, self.ny);
        // Columns first (through the transposed buffer), then rows.
        transpose(spectrum, ny, kx, &mut self.columns);
        self.column_inverse
            .process_with_scratch(&mut self.columns, &mut self.column_scratch);
        transpose(&self.columns, kx, ny, &mut self.rows);
        let scale = 1.0 / (nx * ny) as f64;
        for (row, staged) in field.chunks_exact_mut(nx).zip(self.rows.chunks_exact(kx)) {
            for (c, s) in self.complex_row.iter_mut().zip(staged) {
                *c = s * scale;
            }
            // The imaginary parts of the DC and Nyquist coefficients are ignored (a real
            // signal has none).
            self.rows_fft.inverse(&mut self.complex_row, row);
        }
    }

    #[inline(always)]
    fn columns_transform(&mut self, spectrum: &mut [Complex64], forward: bool) {
        let kx = self.kx();
        let ny = self.ny;
        transpose(spectrum, ny, kx, &mut self.columns);
        let plan = if forward {
            &self.column_forward
        } else {
            &self.column_inverse
        };
        plan.process_with_scratch(&mut self.columns, &mut self.column_scratch);
        transpose(&self.columns, kx, ny, spectrum);
    }

    /// Spectral x-derivative factor i k (zero on the Nyquist row/column).
    pub fn dx_factor(&self, row: usize, column: usize) -> Complex64 {
        if self.is_nyquist(row, column) {
            Complex64::new(0.0, 0.0)
        } else {
            Complex64::new(0.0, self.k[column])
        }
    }

    /// Spectral y-derivative factor i l (zero on the Nyquist row/column).
    pub fn dy_factor(&self, row: usize, column: usize) -> Complex64 {
        if self.is_nyquist(row, column) {
            Complex64::new(0.0, 0.0)
        } else {
            Complex64::new(0.0, self.l[row])
        }
    }

    /// K² = k² + l² of a mode.
    pub fn wavenumber_squared(&self, row: usize, column: usize) -> f64 {
        self.k[column] * self.k[column] + self.l[row] * self.l[row]
    }
}

/// dst (cols × rows) = transpose of src (rows × cols), both row-major, in 8 × 8 tiles whose
/// stores run along dst's rows. A plain strided copy thrashes the cache when a dimension is a
/// power of two (each column of the tile lands in the same cache set), and so do tiles of 16
/// rows, more than the cache's ways. With AVX-512 a tile is 4 × 4 blocks of complex numbers
/// (four loads, eight lane shuffles, four stores), with AVX 2 × 2 blocks (the compiler makes
/// gathers of the scalar loop); the rows and columns past the last whole block are copied
/// one by one.
#[inline(always)]
fn transpose(src: &[Complex64], rows: usize, cols: usize, dst: &mut [Complex64]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present, and both slices hold rows × cols entries.
            return unsafe { transpose_avx512(src, rows, cols, dst) };
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is present, and both slices hold rows × cols entries.
            return unsafe { transpose_avx(src, rows, cols, dst) };
        }
    }
    transpose_tiles(src, rows, cols, dst);
}

const TILE: usize = 8;

/// Visits the top-left corners (r, c) of the `block` × `block` blocks covering
/// `rows` × `cols` (both multiples of `block`), tile by tile: down a strip of TILE columns,
/// then the next strip, so that a tile's stores stay in TILE rows of the destination.
#[inline(always)]
fn for_each_block(rows: usize, cols: usize, block: usize, mut visit: impl FnMut(usize, usize)) {
    for c0 in (0..cols).step_by(TILE) {
        let c1 = (c0 + TILE).min(cols);
        for r0 in (0..rows).step_by(TILE) {
            let r1 = (r0 + TILE).min(rows);
            for r in (r0..r1).step_by(block) {
                for c in (c0..c1).step_by(block) {
                    visit(r, c);
                }
            }
        }
    }
}

/// The scalar tile transpose.
#[inline(always)]
fn transpose_tiles(src: &[Complex64], rows: usize, cols: usize, dst: &mut [Complex64]) {
    for_each_block(rows, cols, 1, |r, c| dst[c * rows + r] = src[r * cols + c]);
}

/// The entries a block transpose leaves: rows `whole_rows..`, and columns `whole_cols..` of
/// the rows before.
#[inline(always)]
fn transpose_edges(
    src: &[Complex64],
    (rows, cols): (usize, usize),
    dst: &mut [Complex64],
    (whole_rows, whole_cols): (usize, usize),
) {
    for r in whole_rows..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
    for c in whole_cols..cols {
        for r in 0..whole_rows {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// [`transpose`] in 2 × 2 blocks of complex numbers (one 256-bit register per block row).
///
/// # Safety
/// The CPU must have AVX, and `src` and `dst` must hold `rows × cols` entries.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_avx(src: &[Complex64], rows: usize, cols: usize, dst: &mut [Complex64]) {
    use std::arch::x86_64::{_mm256_loadu_pd, _mm256_permute2f128_pd, _mm256_storeu_pd};
    let (whole_rows, whole_cols) = (rows & !1, cols & !1);
    let s = src.as_ptr() as *const f64;
    let d = dst.as_mut_ptr() as *mut f64;
    for_each_block(whole_rows, whole_cols, 2, |r, c| {
        // SAFETY: r + 1 < rows and c + 1 < cols; a Complex64 is two f64s.
        unsafe {
            let a = _mm256_loadu_pd(s.add(2 * (r * cols + c)));
            let b = _mm256_loadu_pd(s.add(2 * ((r + 1) * cols + c)));
            let (low, high) = (
                _mm256_permute2f128_pd(a, b, 0x20),
                _mm256_permute2f128_pd(a, b, 0x31),
            );
            _mm256_storeu_pd(d.add(2 * (c * rows + r)), low);
            _mm256_storeu_pd(d.add(2 * ((c + 1) * rows + r)), high);
        }
    });
    transpose_edges(src, (rows, cols), dst, (whole_rows, whole_cols));
}

/// [`transpose`] in 4 × 4 blocks of complex numbers (one 512-bit register per block row; the
/// 128-bit lanes transposed in two rounds of shuffles).
///
/// # Safety
/// The CPU must have AVX-512F, and `src` and `dst` must hold `rows × cols` entries.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_avx512(src: &[Complex64], rows: usize, cols: usize, dst: &mut [Complex64]) {
    use std::arch::x86_64::{_mm512_loadu_pd, _mm512_shuffle_f64x2, _mm512_storeu_pd};
    let (whole_rows, whole_cols) = (rows & !3, cols & !3);
    let s = src.as_ptr() as *const f64;
    let d = dst.as_mut_ptr() as *mut f64;
    for_each_block(whole_rows, whole_cols, 4, |r, c| {
        // SAFETY: r + 3 < rows and c + 3 < cols; a Complex64 is two f64s.
        unsafe {
            let load = |k: usize| _mm512_loadu_pd(s.add(2 * ((r + k) * cols + c)));
            let (a0, a1, a2, a3) = (load(0), load(1), load(2), load(3));
            // Lanes (one complex each): t0 = a0₀ a0₁ a1₀ a1₁, t1 = a0₂ a0₃ a1₂ a1₃, …
            let t0 = _mm512_shuffle_f64x2(a0, a1, 0b01_00_01_00);
            let t1 = _mm512_shuffle_f64x2(a0, a1, 0b11_10_11_10);
            let t2 = _mm512_shuffle_f64x2(a2, a3, 0b01_00_01_00);
            let t3 = _mm512_shuffle_f64x2(a2, a3, 0b11_10_11_10);
            // Column c + j of the block: a0ⱼ a1ⱼ a2ⱼ a3ⱼ.
            let out = [
                _mm512_shuffle_f64x2(t0, t2, 0b10_00_10_00),
                _mm512_shuffle_f64x2(t0, t2, 0b11_01_11_01),
                _mm512_shuffle_f64x2(t1, t3, 0b10_00_10_00),
                _mm512_shuffle_f64x2(t1, t3, 0b11_01_11_01),
            ];
            for (j, v) in out.into_iter().enumerate() {
                _mm512_storeu_pd(d.add(2 * ((c + j) * rows + r)), v);
            }
        }
    });
    transpose_edges(src, (rows, cols), dst, (whole_rows, whole_cols));
}

/// Zero-padding between a grid and its 3/2-rule dealiasing grid (3nx/2 × 3ny/2): the spectrum
/// of a product computed on the padded grid and truncated back is free of aliasing.
#[derive(Clone)]
pub struct Padding {
    pub fine: Spectral2d,
    coarse_nx: usize,
    coarse_ny: usize,
}

impl Padding {
    pub fn new(coarse: &Spectral2d) -> Result<Self> {
        let (nx, ny) = (coarse.nx(), coarse.ny());
        if nx % 4 != 0 || ny % 4 != 0 {
            return Err(SolverError::Grid(format!(
                "{nx} × {ny}: the 3/2 dealiasing grid needs nx and ny divisible by 4"
            )));
        }
        Ok(Padding {
            fine: Spectral2d::new(3 * nx / 2, 3 * ny / 2, coarse.lx(), coarse.ly())?,
            coarse_nx: nx,
            coarse_ny: ny,
        })
    }

    /// Coarse spectrum → fine spectrum (zero-padded, Nyquist modes dropped, amplitudes scaled
    /// so that the fine physical field equals the coarse one).
    #[inline(always)]
    pub fn pad(&self, coarse: &[Complex64], fine: &mut [Complex64]) {
        let scale = (self.fine.points() as f64) / (self.coarse_nx * self.coarse_ny) as f64;
        fine.fill(Complex64::new(0.0, 0.0));
        self.for_each_shared_row(|coarse_row, fine_row| {
            for (f, c) in fine[fine_row].iter_mut().zip(&coarse[coarse_row]) {
                *f = c * scale;
            }
        });
    }

    /// Fine spectrum → coarse spectrum (truncated; Nyquist modes set to zero).
    #[inline(always)]
    pub fn truncate(&self, fine: &[Complex64], coarse: &mut [Complex64]) {
        let scale = (self.coarse_nx * self.coarse_ny) as f64 / (self.fine.points() as f64);
        coarse.fill(Complex64::new(0.0, 0.0));
        self.for_each_shared_row(|coarse_row, fine_row| {
            for (c, f) in coarse[coarse_row].iter_mut().zip(&fine[fine_row]) {
                *c = f * scale;
            }
        });
    }

    /// The modes both grids carry, row by row: for every coarse row l except the Nyquist row,
    /// the index ranges of its columns 0..nx/2 (Nyquist column excluded) in the coarse and in
    /// the fine spectrum (negative l rows sit at the end of each).
    #[inline(always)]
    fn for_each_shared_row(&self, mut visit: impl FnMut(Range<usize>, Range<usize>)) {
        let (ckx, cny) = (self.coarse_nx / 2 + 1, self.coarse_ny);
        let (fkx, fny) = (self.fine.kx(), self.fine.ny());
        for j in (0..cny).filter(|&j| j != cny / 2) {
            let fj = if j < cny / 2 { j } else { fny - (cny - j) };
            visit(j * ckx..j * ckx + ckx - 1, fj * fkx..fj * fkx + ckx - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition_for_odd_and_even_shapes() {
        for (rows, cols) in [
            (1, 1),
            (2, 3),
            (3, 2),
            (8, 8),
            (9, 17),
            (64, 33),
            (33, 64),
            (12, 7),
        ] {
            let src: Vec<Complex64> = (0..rows * cols)
                .map(|i| Complex64::new(i as f64, -(i as f64) * 0.5))
                .collect();
            let mut dst = vec![Complex64::new(f64::NAN, 0.0); rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    let (got, want) = (dst[c * rows + r], src[r * cols + c]);
                    assert_eq!(got, want, "{rows} × {cols} at ({r}, {c})");
                }
            }
            let mut scalar = vec![Complex64::new(f64::NAN, 0.0); rows * cols];
            transpose_tiles(&src, rows, cols, &mut scalar);
            assert_eq!(scalar, dst);
            // Every path this CPU has gives the same.
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx") {
                    let mut avx = vec![Complex64::new(f64::NAN, 0.0); rows * cols];
                    // SAFETY: AVX is present; both hold rows × cols entries.
                    unsafe { transpose_avx(&src, rows, cols, &mut avx) };
                    assert_eq!(avx, dst);
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut avx512 = vec![Complex64::new(f64::NAN, 0.0); rows * cols];
                    // SAFETY: AVX-512F is present; both hold rows × cols entries.
                    unsafe { transpose_avx512(&src, rows, cols, &mut avx512) };
                    assert_eq!(avx512, dst);
                }
            }
        }
    }
}
