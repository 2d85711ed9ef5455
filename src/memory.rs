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

use crate::case::Case;
use crate::error::{MedidaError, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// A memory limit set by the caller (`--memory`); 0: the machine's available memory.
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// Limits the memory a run may plan to use (bytes; 0 restores the machine's).
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Parses a size such as `512M`, `4G`, `2.5GB` or a number of bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (number, scale) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 1u64 << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        'T' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value > 0.0).then_some((value * scale as f64) as u64)
}

/// The memory a run may use: the limit, else the machine's available memory
/// (`MemAvailable` of /proc/meminfo), else None (not known: no check).
pub fn budget() -> Option<(u64, &'static str)> {
    match LIMIT.load(Ordering::Relaxed) {
        0 => {
            let text = std::fs::read_to_string("/proc/meminfo").ok()?;
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((kb * 1024, "available on this machine"))
        }
        limit => Some((limit, "the --memory limit")),
    }
}

/// Bytes in words: "38.2 GB".
pub fn human(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == units.len() - 1 && value >= 1000.0 {
        return format!("{bytes:.1e} B");
    }
    format!("{value:.1} {}", units[unit])
}

/// The bytes a twin experiment's pairs take when held: the true (or read) levels, their
/// observations and their estimates, and a twin experiment's cached truth snapshots.
pub fn held_pairs(case: &Case, pairs: usize) -> f64 {
    let state = case.system.points() as f64 * case.system.fields().0.len() as f64 * 8.0;
    let levels = (case.assimilation.history() + case.system.start_levels() + 1) as f64;
    pairs as f64 * 4.0 * levels * state
}

/// The large allocations a case plans, (what, bytes, the keys that set it), estimated from
/// the settings alone, before any of them is made.
pub fn plan(case: &Case, pairs: usize) -> Vec<(&'static str, f64, &'static str)> {
    let points = case.system.points() as f64;
    let fields = case.system.fields().0.len() as f64;
    let state = points * fields * 8.0;
    let ensemble = case.assimilation.method.is_ensemble();
    let history = case.assimilation.history();
    let levels = (history + case.system.start_levels() + 1) as f64;
    let columns = case.system.library_columns(&case.library) as f64;
    // Streamed, a range of pairs at a time (and the checkpoints of the truth run).
    let range = match case.observations.from_data() {
        true => None,
        false => crate::pipeline::gather::streams(case, pairs).unwrap_or(None),
    };
    let streamed = range.is_some();
    let held = match range {
        Some(range) => {
            held_pairs(case, range.min(pairs))
                + crate::systems::CHECKPOINT_BYTES.min(pairs as f64 * state)
        }
        None => held_pairs(case, pairs),
    };
    let pairs = pairs as f64;
    let mut items = vec![
        (
            "the pairs' states",
            held,
            "observations.pairs, observations.streaming, system.points",
        ),
        // One pair's library columns and rows at a time (the refinement re-derives them).
        (
            "the library columns",
            points * columns * 8.0 * 2.0,
            "the [library] size, system.points",
        ),
        (
            "the normal equations",
            fields * 100.0 * columns * columns * 8.0,
            "the [library] size",
        ),
    ];
    // Windows on noisy data: while `auto` chooses, the end of every candidate window; and the
    // first pass's mapped columns, kept for the selection on the residual (at most a pair's
    // grid per column).
    if case.noise() > 0.0 && !ensemble {
        let candidates = match case.observations.window(case.system.dt()) {
            Ok(crate::case::Window::Auto) => crate::pipeline::window::CANDIDATES.len() as f64,
            _ => 1.0,
        };
        let (ends, kept) = if streamed {
            (crate::pipeline::window::PILOT_PAIRS as f64, 0.0)
        } else {
            (pairs, pairs)
        };
        items.push((
            "the windows' ends and columns",
            ends * (candidates - 1.0) * 2.0 * state + kept * points * fields * columns * 8.0,
            "observations.pairs, observations.interval, the [library] size",
        ));
    }
    if ensemble {
        let members = case.assimilation.members as f64;
        items.push((
            "the ensemble",
            members * state * (levels + 3.0) + members * members * 8.0 * 4.0,
            "assimilation.members, system.points",
        ));
    }
    items
}

/// Refuses a run whose planned allocations exceed the budget, in one line naming the
/// biggest item and the keys that set it.
pub fn check(case: &Case, pairs: usize) -> Result<()> {
    let Some((budget, source)) = budget() else {
        return Ok(());
    };
    let items = plan(case, pairs);
    let total: f64 = items.iter().map(|i| i.1).sum();
    if total <= budget as f64 {
        return Ok(());
    }
    let (what, bytes, keys) = items
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("items");
    let have = if source.starts_with("the") {
        format!("{source} is {}", human(budget as f64))
    } else {
        format!("only {} are {source}", human(budget as f64))
    };
    Err(MedidaError::Config(format!(
        "this run needs about {} ({what}: {}) but {have}: lower {keys}",
        human(total),
        human(*bytes),
    )))
}
