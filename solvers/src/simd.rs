//! Run-time CPU feature checks for the hot loops that are compiled twice (baseline and
//! AVX2+FMA): the crate is built for baseline x86-64 so that one binary runs everywhere.

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
