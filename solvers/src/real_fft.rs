//! Real FFTs of even length N as one complex FFT of length M = N/2 (rustfft) plus a pass that
//! splits or joins the even and odd samples' spectra — the pass realfft does too, here
//! compiled for AVX2+FMA as well and chosen at run time. At N = 128 realfft's scalar pass is
//! half of each transform (BENCHMARKS.md, "real FFT").
//!
//! With z_n = x_{2n} + i x_{2n+1} and Z = FFT_M(z), the spectrum of x is, for 0 < k < M,
//!
//! X_k = E + T,  X_{M−k} = conj(E − T),  E = (Z_k + conj Z_{M−k})/2,  T = (−i w^k/2)(Z_k − conj Z_{M−k}),
//!
//! w = e^{−2πi/N}, and X_0, X_M = Re Z_0 ± Im Z_0. The inverse runs the same pair map backwards:
//! Z_k = S + U, Z_{M−k} = conj(S − U), S = X_k + conj X_{M−k}, U = (i conj w^k)(X_k − conj X_{M−k}),
//! Z_0 = X_0 + X_M + i (X_0 − X_M) (real parts), and z = IFFT_M(Z) unnormalised gives N·x.

use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::Arc;

/// Plans and twiddles of the forward and inverse real transforms of one length.
pub struct RealFft {
    points: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    /// −i w^k / 2 for k = 1..=M/2: the forward pass's twiddles.
    forward_twiddles: Vec<Complex64>,
    /// i conj(w^k) for k = 1..=M/2: the inverse pass's twiddles.
    inverse_twiddles: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

impl Clone for RealFft {
    fn clone(&self) -> Self {
        RealFft {
            points: self.points,
            forward: Arc::clone(&self.forward),
            inverse: Arc::clone(&self.inverse),
            forward_twiddles: self.forward_twiddles.clone(),
            inverse_twiddles: self.inverse_twiddles.clone(),
            scratch: self.scratch.clone(),
        }
    }
}

impl RealFft {
    /// Plans both directions for `points` real samples; `points` must be even and positive
    /// (the grid checks its own, stricter, bounds before it gets here).
    pub fn new(points: usize) -> Self {
        assert!(
            points >= 2 && points % 2 == 0,
            "a real FFT needs an even length, got {points}"
        );
        let half = points / 2;
        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(half);
        let inverse = planner.plan_fft_inverse(half);
        let twiddle = |k: usize| Complex64::from_polar(1.0, -2.0 * PI * k as f64 / points as f64);
        let forward_twiddles = (1..=half / 2)
            .map(|k| Complex64::new(0.0, -0.5) * twiddle(k))
            .collect();
        let inverse_twiddles = (1..=half / 2)
            .map(|k| Complex64::new(0.0, 1.0) * twiddle(k).conj())
            .collect();
        let scratch_len = forward
            .get_outofplace_scratch_len()
            .max(inverse.get_outofplace_scratch_len());
        RealFft {
            points,
            forward,
            inverse,
            forward_twiddles,
            inverse_twiddles,
            scratch: vec![Complex64::new(0.0, 0.0); scratch_len],
        }
    }

    pub fn points(&self) -> usize {
        self.points
    }

    /// Raw forward transform X_k = sum_n x_n e^{−2πi kn/N}, k = 0..=N/2, of `signal` (N reals,
    /// used as scratch and left undefined) into `spectrum` (N/2 + 1 values).
    pub fn forward(&mut self, signal: &mut [f64], spectrum: &mut [Complex64]) {
        let half = self.points / 2;
        assert_eq!(signal.len(), self.points, "real FFT input length");
        assert_eq!(spectrum.len(), half + 1, "real FFT output length");
        self.forward.process_outofplace_with_scratch(
            as_complex_mut(signal),
            &mut spectrum[..half],
            &mut self.scratch,
        );
        let z0 = spectrum[0];
        spectrum[0] = Complex64::new(z0.re + z0.im, 0.0);
        spectrum[half] = Complex64::new(z0.re - z0.im, 0.0);
        pair_pass(spectrum, &self.forward_twiddles, 0.5);
    }

    /// Unnormalised inverse, N·x from the spectrum of a real x: `spectrum` (N/2 + 1 values,
    /// used as scratch and left undefined; the imaginary parts of X_0 and X_{N/2} are
    /// ignored) into `signal` (N reals).
    pub fn inverse(&mut self, spectrum: &mut [Complex64], signal: &mut [f64]) {
        let half = self.points / 2;
        assert_eq!(signal.len(), self.points, "real FFT output length");
        assert_eq!(spectrum.len(), half + 1, "real FFT input length");
        let (first, last) = (spectrum[0].re, spectrum[half].re);
        spectrum[0] = Complex64::new(first + last, first - last);
        pair_pass(spectrum, &self.inverse_twiddles, 1.0);
        self.inverse.process_outofplace_with_scratch(
            &mut spectrum[..half],
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

/// The pair map for k = 1..=M/2 in place on `values[0..=M]`: with A = v_k, B = conj v_{M−k},
/// P = scale (A + B), Q = t_k (A − B): v_k = P + Q, v_{M−k} = conj(P − Q). At k = M/2 (M even)
/// both sides are the same value, and the map gives the one result both formulas agree on.
fn pair_pass(values: &mut [Complex64], twiddles: &[Complex64], scale: f64) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx2_fma() {
        // SAFETY: AVX2 and FMA were detected on this CPU.
        return unsafe { pair_pass_avx2(values, twiddles, scale) };
    }
    pair_pass_scalar(values, twiddles, scale, 1)
}

/// Scalar pair map from pair `from` on (every pair when `from` = 1).
#[inline(always)]
fn pair_pass_scalar(values: &mut [Complex64], twiddles: &[Complex64], scale: f64, from: usize) {
    let half = values.len() - 1;
    for k in from..=half / 2 {
        let a = values[k];
        let b = values[half - k].conj();
        let p = scale * (a + b);
        let q = twiddles[k - 1] * (a - b);
        // At k = M/2 this writes the same value twice.
        values[half - k] = (p - q).conj();
        values[k] = p + q;
    }
}

/// The pair map two pairs at a time: k, k+1 load as one vector, M−k−1, M−k as another whose
/// halves are swapped; the odd pair left over and the middle go to the scalar map.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pair_pass_avx2(values: &mut [Complex64], twiddles: &[Complex64], scale: f64) {
    use std::arch::x86_64::*;
    let half = values.len() - 1;
    // Pairs with k < M − k: k = 1..=(M−1)/2; the vector loop takes them two by two.
    let pairs = (half - 1) / 2;
    let vector_pairs = pairs & !1;
    let base = values.as_mut_ptr().cast::<f64>();
    let tw = twiddles.as_ptr().cast::<f64>();
    let conj = _mm256_setr_pd(0.0, -0.0, 0.0, -0.0);
    let scale_v = _mm256_set1_pd(scale);
    let mut k = 1;
    while k <= vector_pairs {
        // SAFETY: k + 1 <= pairs < M − k − 1, so both loads are in bounds and disjoint.
        let left = base.add(2 * k);
        let right = base.add(2 * (half - k - 1));
        let a = _mm256_loadu_pd(left);
        let b = _mm256_xor_pd(
            _mm256_permute2f128_pd(_mm256_loadu_pd(right), _mm256_loadu_pd(right), 0x01),
            conj,
        );
        let t = _mm256_loadu_pd(tw.add(2 * (k - 1)));
        let p = _mm256_mul_pd(scale_v, _mm256_add_pd(a, b));
        let d = _mm256_sub_pd(a, b);
        // q = t d, complex, two at a time.
        let d_swapped = _mm256_permute_pd(d, 0b0101);
        let q = _mm256_fmaddsub_pd(
            d,
            _mm256_movedup_pd(t),
            _mm256_mul_pd(d_swapped, _mm256_permute_pd(t, 0b1111)),
        );
        _mm256_storeu_pd(left, _mm256_add_pd(p, q));
        let r = _mm256_xor_pd(_mm256_sub_pd(p, q), conj);
        _mm256_storeu_pd(right, _mm256_permute2f128_pd(r, r, 0x01));
        k += 2;
    }
    pair_pass_scalar(values, twiddles, scale, k);
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

    #[test]
    fn forward_matches_the_defining_sum_at_every_length_shape() {
        // N/2 even and odd, powers of two and not, so the vector loop, its scalar tail and the
        // middle pair all run.
        for n in [
            2, 4, 6, 8, 10, 12, 14, 16, 18, 30, 64, 100, 126, 128, 130, 1024,
        ] {
            let x = signal(n);
            let exact = dft(&x);
            let mut fft = RealFft::new(n);
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
        for n in [2, 4, 6, 8, 10, 14, 18, 64, 100, 126, 128, 130, 8192] {
            let x = signal(n);
            let mut fft = RealFft::new(n);
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
    fn agrees_with_realfft_in_both_directions() {
        use realfft::RealFftPlanner;
        let mut planner = RealFftPlanner::<f64>::new();
        for n in [8, 12, 128, 1000, 4096] {
            let x = signal(n);
            let mut fft = RealFft::new(n);
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
