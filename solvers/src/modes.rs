//! Consecutive spectral modes in registers, for the fused loops of the real FFT's pair maps
//! and the time steppers: one mode as `[f64; 2]` (any CPU), two as an AVX `__m256d`. A mode is
//! [Re, Im]; arithmetic is lane by lane unless a method says otherwise.
//!
//! The `__m256d` implementation may only run on a CPU with AVX2 and FMA:
//! [`crate::real_fft::for_each_pair`] is the one place that chooses it, after checking.

use num_complex::Complex64;

pub(crate) trait Modes: Copy {
    /// Modes held.
    const WIDTH: usize;
    /// Modes j..j + WIDTH of `values`.
    ///
    /// # Safety
    /// j + WIDTH <= values.len() (checked in debug builds only: the fused loops check their
    /// slices' lengths once, not per access).
    unsafe fn load(values: &[Complex64], j: usize) -> Self;
    /// Writes into modes j..j + WIDTH of `values`.
    ///
    /// # Safety
    /// As for [`Modes::load`].
    unsafe fn store(self, values: &mut [Complex64], j: usize);
    fn splat(x: f64) -> Self;
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn mul(self, other: Self) -> Self;
    /// [Re, Im] → [Im, Re] in every mode.
    fn swap(self) -> Self;
    fn conj(self) -> Self;
    /// The modes in reverse order.
    fn reverse(self) -> Self;
    /// Complex product, mode by mode.
    fn complex_mul(self, other: Self) -> Self;
    /// The imaginary part of mode `mode` (0..WIDTH) set to zero.
    fn drop_imaginary(self, mode: usize) -> Self;
}

impl Modes for [f64; 2] {
    const WIDTH: usize = 1;

    #[inline(always)]
    unsafe fn load(values: &[Complex64], j: usize) -> Self {
        debug_assert!(j < values.len());
        let value = values.get_unchecked(j);
        [value.re, value.im]
    }

    #[inline(always)]
    unsafe fn store(self, values: &mut [Complex64], j: usize) {
        debug_assert!(j < values.len());
        *values.get_unchecked_mut(j) = Complex64::new(self[0], self[1]);
    }

    #[inline(always)]
    fn splat(x: f64) -> Self {
        [x, x]
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        [self[0] + o[0], self[1] + o[1]]
    }

    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        [self[0] - o[0], self[1] - o[1]]
    }

    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        [self[0] * o[0], self[1] * o[1]]
    }

    #[inline(always)]
    fn swap(self) -> Self {
        [self[1], self[0]]
    }

    #[inline(always)]
    fn conj(self) -> Self {
        [self[0], -self[1]]
    }

    #[inline(always)]
    fn reverse(self) -> Self {
        self
    }

    #[inline(always)]
    fn complex_mul(self, o: Self) -> Self {
        [
            self[0] * o[0] - self[1] * o[1],
            self[0] * o[1] + self[1] * o[0],
        ]
    }

    #[inline(always)]
    fn drop_imaginary(self, _mode: usize) -> Self {
        [self[0], 0.0]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Modes;
    use num_complex::Complex64;
    use std::arch::x86_64::*;

    // SAFETY (every block below): the intrinsics need AVX2 and FMA, which the only caller,
    // `real_fft::for_each_pair`, has checked; loads and stores stay in bounds by the
    // contract of `Modes::load`.
    impl Modes for __m256d {
        const WIDTH: usize = 2;

        #[inline(always)]
        unsafe fn load(values: &[Complex64], j: usize) -> Self {
            debug_assert!(j + 2 <= values.len());
            _mm256_loadu_pd(values.as_ptr().add(j).cast())
        }

        #[inline(always)]
        unsafe fn store(self, values: &mut [Complex64], j: usize) {
            debug_assert!(j + 2 <= values.len());
            _mm256_storeu_pd(values.as_mut_ptr().add(j).cast(), self)
        }

        #[inline(always)]
        fn splat(x: f64) -> Self {
            unsafe { _mm256_set1_pd(x) }
        }

        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { _mm256_add_pd(self, o) }
        }

        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { _mm256_sub_pd(self, o) }
        }

        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { _mm256_mul_pd(self, o) }
        }

        #[inline(always)]
        fn swap(self) -> Self {
            unsafe { _mm256_permute_pd(self, 0b0101) }
        }

        #[inline(always)]
        fn conj(self) -> Self {
            unsafe { _mm256_xor_pd(self, _mm256_setr_pd(0.0, -0.0, 0.0, -0.0)) }
        }

        #[inline(always)]
        fn reverse(self) -> Self {
            unsafe { _mm256_permute2f128_pd(self, self, 0x01) }
        }

        #[inline(always)]
        fn complex_mul(self, o: Self) -> Self {
            // Re lanes: a_re o_re − a_im o_im; Im lanes: a_im o_re + a_re o_im.
            unsafe {
                _mm256_fmaddsub_pd(
                    self,
                    _mm256_movedup_pd(o),
                    _mm256_mul_pd(
                        _mm256_permute_pd(self, 0b0101),
                        _mm256_permute_pd(o, 0b1111),
                    ),
                )
            }
        }

        #[inline(always)]
        fn drop_imaginary(self, mode: usize) -> Self {
            unsafe {
                if mode == 0 {
                    _mm256_blend_pd(self, _mm256_setzero_pd(), 0b0010)
                } else {
                    _mm256_blend_pd(self, _mm256_setzero_pd(), 0b1000)
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Modes;
    use num_complex::Complex64;
    use std::arch::x86_64::*;

    // SAFETY (every block below): the intrinsics need AVX-512F, which the only caller,
    // `real_fft::for_each_pair`, has checked; loads and stores stay in bounds by the
    // contract of `Modes::load`.
    impl Modes for __m512d {
        const WIDTH: usize = 4;

        #[inline(always)]
        unsafe fn load(values: &[Complex64], j: usize) -> Self {
            debug_assert!(j + 4 <= values.len());
            _mm512_loadu_pd(values.as_ptr().add(j).cast())
        }

        #[inline(always)]
        unsafe fn store(self, values: &mut [Complex64], j: usize) {
            debug_assert!(j + 4 <= values.len());
            _mm512_storeu_pd(values.as_mut_ptr().add(j).cast(), self)
        }

        #[inline(always)]
        fn splat(x: f64) -> Self {
            unsafe { _mm512_set1_pd(x) }
        }

        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { _mm512_add_pd(self, o) }
        }

        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { _mm512_sub_pd(self, o) }
        }

        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { _mm512_mul_pd(self, o) }
        }

        #[inline(always)]
        fn swap(self) -> Self {
            unsafe { _mm512_permute_pd(self, 0b0101_0101) }
        }

        #[inline(always)]
        fn conj(self) -> Self {
            unsafe { _mm512_mask_sub_pd(self, 0b1010_1010, _mm512_setzero_pd(), self) }
        }

        #[inline(always)]
        fn reverse(self) -> Self {
            // 128-bit blocks (one mode each) in order 3, 2, 1, 0.
            unsafe { _mm512_shuffle_f64x2(self, self, 0b00_01_10_11) }
        }

        #[inline(always)]
        fn complex_mul(self, o: Self) -> Self {
            unsafe {
                _mm512_fmaddsub_pd(
                    self,
                    _mm512_movedup_pd(o),
                    _mm512_mul_pd(
                        _mm512_permute_pd(self, 0b0101_0101),
                        _mm512_permute_pd(o, 0b1111_1111),
                    ),
                )
            }
        }

        #[inline(always)]
        fn drop_imaginary(self, mode: usize) -> Self {
            unsafe { _mm512_mask_mov_pd(self, 1 << (2 * mode + 1), _mm512_setzero_pd()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<Complex64> {
        (0..6)
            .map(|j| Complex64::new(1.0 + j as f64 * 0.7, (j * j) as f64 * 0.3 - 2.0))
            .collect()
    }

    /// Every operation of `V`, on modes 1 and 2, against complex arithmetic.
    fn check<V: Modes>() {
        let x = values();
        let y: Vec<Complex64> = x.iter().map(|c| c * Complex64::new(0.3, -1.1)).collect();
        // SAFETY: modes 1..1 + WIDTH <= 5 of 6-long buffers.
        let (a, b) = unsafe { (V::load(&x, 1), V::load(&y, 1)) };
        let read = |v: V| {
            let mut out = vec![Complex64::new(0.0, 0.0); 6];
            unsafe { v.store(&mut out, 1) };
            out[1..1 + V::WIDTH].to_vec()
        };
        let modes = 1..1 + V::WIDTH;
        let expect = |f: &dyn Fn(Complex64, Complex64) -> Complex64| -> Vec<Complex64> {
            modes.clone().map(|j| f(x[j], y[j])).collect()
        };
        assert_eq!(read(a.add(b)), expect(&|p, q| p + q));
        assert_eq!(read(a.sub(b)), expect(&|p, q| p - q));
        assert_eq!(read(a.mul(V::splat(2.0))), expect(&|p, _| 2.0 * p));
        assert_eq!(read(a.swap()), expect(&|p, _| Complex64::new(p.im, p.re)));
        assert_eq!(read(a.conj()), expect(&|p, _| p.conj()));
        for mode in 0..V::WIDTH {
            let mut want = expect(&|p, _| p);
            want[mode].im = 0.0;
            assert_eq!(read(a.drop_imaginary(mode)), want);
        }
        let product = read(a.complex_mul(b));
        for (got, want) in product.iter().zip(expect(&|p, q| p * q)) {
            assert!((got - want).norm() < 1e-14, "{got} vs {want}");
        }
        let mut reversed = expect(&|p, _| p);
        reversed.reverse();
        assert_eq!(read(a.reverse()), reversed);
    }

    #[test]
    fn one_mode_arithmetic_is_complex_arithmetic() {
        check::<[f64; 2]>();
    }

    #[test]
    fn four_mode_arithmetic_is_complex_arithmetic() {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512() {
            check::<std::arch::x86_64::__m512d>();
        }
    }

    #[test]
    fn two_mode_arithmetic_is_complex_arithmetic() {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            check::<std::arch::x86_64::__m256d>();
        }
    }
}
