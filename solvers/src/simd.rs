//! Run-time CPU feature checks for the hot loops that are compiled more than once (baseline,
//! AVX2+FMA, and for the real FFT's pair loops AVX-512): a binary built for baseline x86-64
//! still runs everywhere and uses the wide loops where the CPU has them.

/// True when this CPU has AVX2 and FMA (checked once, then cached by the standard library).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// True when this CPU has AVX-512F (for the four-mode loops; they also use AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()
}
