//! Process-wide allocator settings for programs that run many large analyses.
//!
//! An ensemble analysis allocates several state × members matrices (8 MB each at 1,000
//! members of 1,024 points) and frees them again. glibc's defaults hand such blocks back to
//! the kernel on every free (heap trimming above a threshold that adapts to recent frees, and
//! `mmap` above another), so the next analysis pays for fresh, zeroed pages: measured here,
//! that doubled a 100-member analysis (see BENCHMARKS.md). [`retain_freed_memory`] keeps
//! freed blocks in the process instead. The medida CLI, the examples that run filters and the
//! filter benchmarks call it first thing; a library user may call it from their own `main`.

/// Keeps freed heap memory for reuse instead of returning it to the kernel (glibc on Linux:
/// blocks up to 32 MiB come from the heap, and the heap is not trimmed below 1 GiB of free
/// space). A no-op elsewhere. Call it before starting threads.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; both values are within the ranges
    // glibc documents (the mmap threshold's maximum is 32 MiB on 64-bit systems).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
