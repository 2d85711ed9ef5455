//! Real FFTs of even length N as one complex FFT of length M = N/2 (rustfft) plus a pass that
//! splits or joins the even and odd samples' spectra (the "pair map"). realfft does the same,
//! but its pass is scalar and was half of each transform at N = 128; here it runs one, two or
//! four mode pairs per register (scalar, AVX2, AVX-512, chosen at run time), and the time
//! steppers fuse their own per-mode arithmetic into it (`PairKernel`). BENCHMARKS.md's kernels
//! table has today's figures.
//!
//! With z_n = x_{2n} + i x_{2n+1}, Z = FFT_M(z) and Z_M ≡ Z_0, the spectrum of x is, for
//! k = 0..=M/2,
//!
//! X_k = P + Q,  X_{M−k} = conj(P − Q),  P = (Z_k + conj Z_{M−k})/2,  Q = (−i w^k/2)(Z_k − conj Z_{M−k}),
//!
//! w = e^{−2πi/N} (at k = 0 this gives X_0, X_M = Re Z_0 ± Im Z_0). The inverse runs the map
//! backwards: Z_k = S + U, Z_{M−k} = conj(S − U), S = X_k + conj X_{M−k},
//! U = (i conj w^k)(X_k − conj X_{M−k}), and z = IFFT_M(Z) unnormalised gives N·x.

use crate::error::{Result, SolverError};
use crate::modes::Modes;
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::Arc;

/// Plans and twiddles of the forward and inverse real transforms of one length.
pub struct RealFft {
    points: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    twiddles: Twiddles,
    scratch: Vec<Complex64>,
}

/// The pair maps' twiddles for k = 0..=M/2.
#[derive(Clone)]
pub(crate) struct Twiddles {
    /// −i w^k / 2, for the forward map.
    pub forward: Vec<Complex64>,
    /// i conj(w^k), for the inverse map.
    pub inverse: Vec<Complex64>,
}

impl Clone for RealFft {
    fn clone(&self) -> Self {
        RealFft {
            points: self.points,
            forward: Arc::clone(&self.forward),
            inverse: Arc::clone(&self.inverse),
            twiddles: self.twiddles.clone(),
            scratch: self.scratch.clone(),
        }
    }
}

impl RealFft {
    /// Plans both directions for `points` real samples, an even number (at least 2).
    pub fn new(points: usize) -> Result<Self> {
        if points < 2 || !points.is_multiple_of(2) {
            return Err(SolverError::Grid(format!(
                "a real FFT of {points} points: the length must be even and at least 2"
            )));
        }
        let half = points / 2;
        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(half);
        let inverse = planner.plan_fft_inverse(half);
        let twiddle = |k: usize| Complex64::from_polar(1.0, -2.0 * PI * k as f64 / points as f64);
        let twiddles = Twiddles {
            forward: (0..=half / 2)
                .map(|k| Complex64::new(0.0, -0.5) * twiddle(k))
                .collect(),
            inverse: (0..=half / 2)
                .map(|k| Complex64::new(0.0, 1.0) * twiddle(k).conj())
                .collect(),
        };
        let scratch_len = forward
            .get_outofplace_scratch_len()
            .max(inverse.get_outofplace_scratch_len());
        Ok(RealFft {
            points,
            forward,
            inverse,
            twiddles,
            scratch: vec![Complex64::new(0.0, 0.0); scratch_len],
        })
    }

    pub fn points(&self) -> usize {
        self.points
    }

    pub(crate) fn twiddles(&self) -> &Twiddles {
        &self.twiddles
    }

    /// Raw forward transform X_k = sum_n x_n e^{−2πi kn/N}, k = 0..=N/2, of `signal` (N reals,
    /// used as scratch and left undefined) into `spectrum` (N/2 + 1 values).
    pub fn forward(&mut self, signal: &mut [f64], spectrum: &mut [Complex64]) {
        self.forward_packed(signal, spectrum);
        for_each_pair(
            self.points / 2,
            ForwardMap {
                values: spectrum,
                twiddles: &self.twiddles.forward,
            },
        );
    }

    /// Unnormalised inverse, N·x from the spectrum of a real x: `spectrum` (N/2 + 1 values,
    /// used as scratch and left undefined; the imaginary parts of X_0 and X_{N/2} are
    /// ignored) into `signal` (N reals).
    pub fn inverse(&mut self, spectrum: &mut [Complex64], signal: &mut [f64]) {
        assert_eq!(spectrum.len(), self.points / 2 + 1, "real FFT input length");
        for_each_pair(
            self.points / 2,
            InverseMap {
                values: spectrum,
                twiddles: &self.twiddles.inverse,
            },
        );
        self.inverse_packed(spectrum, signal);
    }

    /// The complex half of [`RealFft::forward`]: Z = FFT_M(z) of the packed signal into
    /// `packed[..M]`, and `packed[M]` = Z_0 so that the pair map at k = 0 reads Z_{M−0}.
    pub(crate) fn forward_packed(&mut self, signal: &mut [f64], packed: &mut [Complex64]) {
        let half = self.points / 2;
        assert_eq!(signal.len(), self.points, "real FFT input length");
        assert_eq!(packed.len(), half + 1, "real FFT output length");
        self.forward.process_outofplace_with_scratch(
            as_complex_mut(signal),
            &mut packed[..half],
            &mut self.scratch,
        );
        packed[half] = packed[0];
    }

    /// The complex half of [`RealFft::inverse`]: the unnormalised IFFT_M of `packed[..M]`
    /// (already through the inverse pair map; used as scratch) into `signal`.
    pub(crate) fn inverse_packed(&mut self, packed: &mut [Complex64], signal: &mut [f64]) {
        let half = self.points / 2;
        assert_eq!(signal.len(), self.points, "real FFT output length");
        self.inverse.process_outofplace_with_scratch(
            &mut packed[..half],
            as_complex_mut(signal),
            &mut self.scratch,
        );
    }
}

/// N reals seen as N/2 complex numbers (re, im adjacent, as `Complex64` is laid out).
fn as_complex_mut(signal: &mut [f64]) -> &mut [Complex64] {
    // SAFETY: Complex64 is repr(C) { re: f64, im: f64 }: two f64 with f64 alignment, so an
    // even-length f64 slice is exactly a Complex64 slice of half the length.
    unsafe {
        std::slice::from_raw_parts_mut(signal.as_mut_ptr().cast::<Complex64>(), signal.len() / 2)
    }
}

/// Work done on a mode pair group: modes `left..left + W` and their mirrors M − k, which are
/// `right..right + W` in reverse order (W = `V::WIDTH`). The middle mode M/2 of an even M
/// comes as `left == right`: it is its own mirror, and a kernel that changes state must
/// compute it once.
pub(crate) trait PairKernel {
    /// Panics unless every slice the kernel reads or writes per mode holds the M + 1 modes of
    /// a real spectrum (twiddles: M/2 + 1), which makes [`PairKernel::pair`] in bounds.
    fn check_lengths(&self, half: usize);

    /// # Safety
    /// `check_lengths(M)` has passed; left + W − 1 <= M/2 and right + W − 1 <= M.
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize);
}

/// Panics unless each of `spectra` holds the M + 1 modes of a real spectrum and each of
/// `twiddles` one value for k = 0..=M/2.
#[inline(always)]
pub(crate) fn check_lengths(spectra: &[&[Complex64]], twiddles: &[&[Complex64]], half: usize) {
    let spectra_fit = spectra.iter().all(|s| s.len() == half + 1);
    let twiddles_fit = twiddles.iter().all(|t| t.len() == half / 2 + 1);
    assert!(
        spectra_fit && twiddles_fit,
        "a pair loop over {} modes got buffers of other lengths",
        half + 1
    );
}

/// How many pairs a loop iteration of [`for_each_pair`] takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PairPath {
    /// One pair (k, M − k) at a time, on any CPU.
    Single,
    /// Two at a time with AVX2 and FMA.
    Avx2,
    /// Four at a time with AVX-512F.
    Avx512,
}

/// The widest path this CPU runs.
#[inline(always)]
fn best_path() -> PairPath {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        return PairPath::Avx512;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx2_fma() {
        return PairPath::Avx2;
    }
    PairPath::Single
}

#[cfg(test)]
thread_local! {
    /// A path that tests force on their own thread, to check every path on one CPU.
    pub(crate) static FORCED_PATH: std::cell::Cell<Option<PairPath>> =
        const { std::cell::Cell::new(None) };
}

/// The paths this CPU can run, narrowest first (for tests).
#[cfg(test)]
pub(crate) fn available_paths() -> Vec<PairPath> {
    [PairPath::Single, PairPath::Avx2, PairPath::Avx512]
        .into_iter()
        .filter(|&path| match path {
            PairPath::Single => true,
            #[cfg(target_arch = "x86_64")]
            PairPath::Avx2 => crate::simd::has_avx2_fma(),
            #[cfg(target_arch = "x86_64")]
            PairPath::Avx512 => crate::simd::has_avx512(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        })
        .collect()
}

/// Runs `f` with `path` forced on this thread (for tests).
#[cfg(test)]
pub(crate) fn with_path<R>(path: PairPath, f: impl FnOnce() -> R) -> R {
    FORCED_PATH.with(|forced| forced.set(Some(path)));
    let result = f();
    FORCED_PATH.with(|forced| forced.set(None));
    result
}

/// Runs `kernel` over every mode pair (k, M − k), k = 0..=M/2, several pairs at a time where
/// the CPU allows. The kernel is taken by value: its slices then live in registers rather
/// than being reloaded after every store.
#[inline(always)]
pub(crate) fn for_each_pair<K: PairKernel>(half: usize, mut kernel: K) {
    kernel.check_lengths(half);
    let path = best_path();
    #[cfg(test)]
    let path = FORCED_PATH.with(|forced| forced.get()).unwrap_or(path);
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `best_path` (or a test, from `available_paths`) found AVX-512F, AVX2, FMA.
        PairPath::Avx512 => unsafe { for_each_pair_avx512(half, kernel) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `best_path` (or a test, from `available_paths`) found AVX2 and FMA.
        PairPath::Avx2 => unsafe { for_each_pair_avx2(half, kernel) },
        _ => single_pairs(half, &mut kernel, 0),
    }
}

/// Pairs k = `from`..=M/2 one at a time (after `check_lengths`).
#[inline(always)]
fn single_pairs<K: PairKernel>(half: usize, kernel: &mut K, from: usize) {
    let mut k = from;
    while 2 * k <= half {
        // SAFETY: k <= M/2 and M − k <= M; the caller has checked the lengths.
        unsafe { kernel.pair::<[f64; 2]>(k, half - k) };
        k += 1;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn for_each_pair_avx2<K: PairKernel>(half: usize, mut kernel: K) {
    two_pairs_at_a_time(half, &mut kernel, 0)
}

/// Pairs k = `from`..=M/2, two at a time while they do not overlap, then one at a time.
/// Inlined into functions compiled for AVX2 and FMA only.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn two_pairs_at_a_time<K: PairKernel>(half: usize, kernel: &mut K, from: usize) {
    use std::arch::x86_64::__m256d;
    let mut k = from;
    // Modes k, k + 1 and their mirrors M − k − 1, M − k, while the two do not overlap (so
    // k + 1 < M/2); `for_each_pair` has checked the lengths. What is left (the middle mode,
    // and one more pair when M/2 is odd) goes one pair at a time.
    while 2 * k + 2 < half {
        kernel.pair::<__m256d>(k, half - k - 1);
        k += 2;
    }
    single_pairs(half, kernel, k)
}

/// As [`for_each_pair_avx2`], four pairs at a time first.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn for_each_pair_avx512<K: PairKernel>(half: usize, mut kernel: K) {
    use std::arch::x86_64::__m512d;
    let mut k = 0;
    // Modes k..k + 3 and their mirrors M − k − 3..=M − k, while the two do not overlap.
    while 2 * k + 6 < half {
        kernel.pair::<__m512d>(k, half - k - 3);
        k += 4;
    }
    two_pairs_at_a_time(half, &mut kernel, k)
}

/// The forward pair map: from Z at modes k (`left`) and M − k (`right`, reversed), the
/// spectrum there: X_k = P + Q, X_{M−k} = conj(P − Q), P = (A + B)/2, Q = t_k (A − B),
/// A = Z_k, B = conj Z_{M−k}, t_k = −i w^k/2.
#[inline(always)]
pub(crate) fn forward_pair<V: Modes>(left: V, right: V, twiddle: V) -> (V, V) {
    let (a, b) = (left, right.reverse().conj());
    let p = a.add(b).mul(V::splat(0.5));
    let q = a.sub(b).complex_mul(twiddle);
    (p.add(q), p.sub(q).conj().reverse())
}

/// The inverse pair map: from the spectrum at modes k and M − k, the packed Z there:
/// Z_k = S + U, Z_{M−k} = conj(S − U), S = A + B, U = t_k (A − B), A = X_k, B = conj X_{M−k},
/// t_k = i conj(w^k). At k = 0 the imaginary parts of X_0 and X_M are dropped (a real signal
/// has none; round-off would otherwise leak into Z_0).
#[inline(always)]
pub(crate) fn inverse_pair<V: Modes>(k: usize, left: V, right: V, twiddle: V) -> (V, V) {
    let (left, right) = if k == 0 {
        // Mode 0 leads `left`; mode M ends `right`.
        (left.drop_imaginary(0), right.drop_imaginary(V::WIDTH - 1))
    } else {
        (left, right)
    };
    let (a, b) = (left, right.reverse().conj());
    let s = a.add(b);
    let u = a.sub(b).complex_mul(twiddle);
    (s.add(u), s.sub(u).conj().reverse())
}

/// [`forward_pair`] in place over a packed spectrum.
struct ForwardMap<'a> {
    values: &'a mut [Complex64],
    twiddles: &'a [Complex64],
}

impl PairKernel for ForwardMap<'_> {
    fn check_lengths(&self, half: usize) {
        check_lengths(&[self.values], &[self.twiddles], half);
    }

    #[inline(always)]
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize) {
        let (x_left, x_right) = forward_pair(
            V::load(self.values, left),
            V::load(self.values, right),
            V::load(self.twiddles, left),
        );
        x_left.store(self.values, left);
        x_right.store(self.values, right);
    }
}

/// [`inverse_pair`] from one spectrum into another buffer (the transform's input).
pub(crate) struct InverseMapInto<'a> {
    pub from: &'a [Complex64],
    pub to: &'a mut [Complex64],
    pub twiddles: &'a [Complex64],
}

impl PairKernel for InverseMapInto<'_> {
    fn check_lengths(&self, half: usize) {
        check_lengths(&[self.from, self.to], &[self.twiddles], half);
    }

    #[inline(always)]
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize) {
        let (z_left, z_right) = inverse_pair(
            left,
            V::load(self.from, left),
            V::load(self.from, right),
            V::load(self.twiddles, left),
        );
        z_left.store(self.to, left);
        z_right.store(self.to, right);
    }
}

/// [`inverse_pair`] in place over a spectrum.
struct InverseMap<'a> {
    values: &'a mut [Complex64],
    twiddles: &'a [Complex64],
}

impl PairKernel for InverseMap<'_> {
    fn check_lengths(&self, half: usize) {
        check_lengths(&[self.values], &[self.twiddles], half);
    }

    #[inline(always)]
    unsafe fn pair<V: Modes>(&mut self, left: usize, right: usize) {
        let (z_left, z_right) = inverse_pair(
            left,
            V::load(self.values, left),
            V::load(self.values, right),
            V::load(self.twiddles, left),
        );
        z_left.store(self.values, left);
        z_right.store(self.values, right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defining sum, O(N²): exact to round-off, independent of any FFT.
    fn dft(x: &[f64]) -> Vec<Complex64> {
        let n = x.len();
        (0..=n / 2)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        let angle = -2.0 * PI * ((k * j) % n) as f64 / n as f64;
                        v * Complex64::from_polar(1.0, angle)
                    })
                    .sum()
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<f64> {
        (0..n)
            .map(|j| ((j * j) as f64 * 0.37).sin() + 0.25 * (j as f64 * 1.3).cos())
            .collect()
    }

    /// Runs `check` once on each loop path this CPU has.
    fn on_every_path(check: impl Fn()) {
        for path in available_paths() {
            with_path(path, &check);
        }
    }

    #[test]
    fn forward_matches_the_defining_sum_at_every_length_shape() {
        on_every_path(forward_matches_the_defining_sum);
    }

    fn forward_matches_the_defining_sum() {
        // N/2 even and odd, powers of two and not, so that every mix of four-, two- and
        // one-pair steps and the middle pair runs.
        for n in [
            2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 36, 44, 64, 100, 126, 128, 130,
            1024,
        ] {
            let x = signal(n);
            let exact = dft(&x);
            let mut fft = RealFft::new(n).unwrap();
            let mut input = x.clone();
            let mut spectrum = vec![Complex64::new(0.0, 0.0); n / 2 + 1];
            fft.forward(&mut input, &mut spectrum);
            let scale = exact.iter().map(|c| c.norm()).fold(0.0, f64::max);
            for (k, (got, want)) in spectrum.iter().zip(&exact).enumerate() {
                // Round-off of both sums grows like log N and N: 1e-13 of the largest mode.
                assert!(
                    (got - want).norm() <= 1e-13 * scale,
                    "N={n}, k={k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn inverse_undoes_forward_times_n() {
        on_every_path(inverse_undoes_forward);
    }

    fn inverse_undoes_forward() {
        for n in [2, 4, 6, 8, 10, 14, 18, 64, 100, 126, 128, 130, 8192] {
            let x = signal(n);
            let mut fft = RealFft::new(n).unwrap();
            let mut input = x.clone();
            let mut spectrum = vec![Complex64::new(0.0, 0.0); n / 2 + 1];
            fft.forward(&mut input, &mut spectrum);
            // Round-off imaginary parts at DC and Nyquist must be ignored.
            spectrum[0].im = 1e3;
            spectrum[n / 2].im = -1e3;
            let mut back = vec![0.0; n];
            fft.inverse(&mut spectrum, &mut back);
            for (j, (got, want)) in back.iter().zip(&x).enumerate() {
                assert!(
                    (got / n as f64 - want).abs() <= 1e-13,
                    "N={n}, j={j}: {} vs {want}",
                    got / n as f64
                );
            }
        }
    }

    #[test]
    fn odd_or_empty_lengths_are_errors() {
        for n in [0, 1, 3, 129] {
            assert!(RealFft::new(n).is_err(), "N = {n}");
        }
    }

    #[test]
    fn agrees_with_realfft_in_both_directions() {
        use realfft::RealFftPlanner;
        let mut planner = RealFftPlanner::<f64>::new();
        for n in [8, 12, 128, 1000, 4096] {
            let x = signal(n);
            let mut fft = RealFft::new(n).unwrap();
            let (mut ours, mut theirs) = (
                vec![Complex64::new(0.0, 0.0); n / 2 + 1],
                vec![Complex64::new(0.0, 0.0); n / 2 + 1],
            );
            fft.forward(&mut x.clone(), &mut ours);
            planner
                .plan_fft_forward(n)
                .process(&mut x.clone(), &mut theirs)
                .unwrap();
            let scale = theirs.iter().map(|c| c.norm()).fold(0.0, f64::max);
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).norm() <= 1e-13 * scale, "N={n}: {a} vs {b}");
            }
            let (mut back_ours, mut back_theirs) = (vec![0.0; n], vec![0.0; n]);
            fft.inverse(&mut ours.clone(), &mut back_ours);
            planner
                .plan_fft_inverse(n)
                .process(&mut theirs.clone(), &mut back_theirs)
                .unwrap();
            for (a, b) in back_ours.iter().zip(&back_theirs) {
                assert!((a - b).abs() <= 1e-12 * n as f64, "N={n}: {a} vs {b}");
            }
        }
    }
}
