//! Observations from a `.npz` file instead of a simulated truth (interfaces.md, "Observations
//! from a file"): `t` (n,) strictly increasing, the observed fields (`u` (n, points); `psi1`,
//! `psi2` (n, ny, nx)) on the `[system]` grid, NaN where a point was not observed, optional
//! coordinates `x` (and `y`) checked against the grid. Pairs are found from the times: a
//! snapshot t whose levels t − (levels − 1)·dt … t and partner t + dt are all in the file.
//! Only the snapshots of the chosen pairs (and of the validation forecast) are read; the
//! others are streamed past. Arrays held in memory in the same layout ([`Arrays`], the Python
//! `discover`) go through the same reader and the same checks ([`Snapshots`]).

use crate::error::{MedidaError, Result};
use crate::npz::{array_info, array_names, read_rows, read_vector};
use crate::pipeline::observe::{ObservedLevel, ObservedPair};
use crate::systems::SystemSettings;
use std::path::{Path, PathBuf};

/// Where the snapshots come from: an `.npz` file, or arrays held in memory (the Python
/// `discover`). Both give named arrays of f64, row 0 first.
pub trait Snapshots {
    /// Names the source in errors: the path, or what holds the arrays.
    fn label(&self) -> String;
    fn names(&self) -> Result<Vec<String>>;
    fn shape(&self, name: &str) -> Result<Vec<usize>>;
    fn vector(&self, name: &str) -> Result<Vec<f64>>;
    /// The rows `wanted` (sorted) of an array, each flattened.
    fn rows(&self, name: &str, wanted: &[usize]) -> Result<Vec<Vec<f64>>>;
}

/// An observation file, streamed: only the rows asked for are read.
pub struct NpzFile<'a>(pub &'a Path);

impl Snapshots for NpzFile<'_> {
    fn label(&self) -> String {
        self.0.display().to_string()
    }
    fn names(&self) -> Result<Vec<String>> {
        array_names(self.0)
    }
    fn shape(&self, name: &str) -> Result<Vec<usize>> {
        Ok(array_info(self.0, name)?.shape)
    }
    fn vector(&self, name: &str) -> Result<Vec<f64>> {
        Ok(read_vector(self.0, name)?.to_vec())
    }
    fn rows(&self, name: &str, wanted: &[usize]) -> Result<Vec<Vec<f64>>> {
        Ok(read_rows(self.0, name, wanted)?.1)
    }
}

/// Observations held in memory, in the observation file's layout: named arrays with their
/// shapes (row-major), `t` among them.
#[derive(Clone, Debug, Default)]
pub struct Arrays {
    /// What holds them, for errors (e.g. "the arrays given to medida.discover").
    pub label: String,
    pub arrays: Vec<(String, Vec<usize>, Vec<f64>)>,
}

impl Arrays {
    /// Checks that every array's values fill its shape.
    pub fn new(label: &str, arrays: Vec<(String, Vec<usize>, Vec<f64>)>) -> Result<Self> {
        for (name, shape, data) in &arrays {
            let size: usize = shape.iter().product();
            if size != data.len() {
                return Err(MedidaError::Data(format!(
                    "{label}: `{name}` has shape {shape:?} ({size} values) but {} values",
                    data.len()
                )));
            }
        }
        Ok(Arrays {
            label: label.to_string(),
            arrays,
        })
    }

    fn get(&self, name: &str) -> Result<&(String, Vec<usize>, Vec<f64>)> {
        self.arrays
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| MedidaError::Data(format!("{}: no array `{name}`", self.label)))
    }
}

impl Snapshots for Arrays {
    fn label(&self) -> String {
        self.label.clone()
    }
    fn names(&self) -> Result<Vec<String>> {
        Ok(self.arrays.iter().map(|(n, _, _)| n.clone()).collect())
    }
    fn shape(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.get(name)?.1.clone())
    }
    fn vector(&self, name: &str) -> Result<Vec<f64>> {
        let (_, shape, data) = self.get(name)?;
        if shape.iter().filter(|&&d| d != 1).count() > 1 {
            return Err(MedidaError::Data(format!(
                "{}: `{name}` has shape {shape:?}; expected a vector",
                self.label
            )));
        }
        Ok(data.clone())
    }
    fn rows(&self, name: &str, wanted: &[usize]) -> Result<Vec<Vec<f64>>> {
        let (_, shape, data) = self.get(name)?;
        let row: usize = shape.iter().skip(1).product();
        wanted
            .iter()
            .map(|&r| {
                data.get(r * row..(r + 1) * row)
                    .map(<[f64]>::to_vec)
                    .ok_or_else(|| {
                        MedidaError::Data(format!("{}: `{name}` has no row {r}", self.label))
                    })
            })
            .collect()
    }
}

/// Snapshots of the validation forecast kept at most (spread evenly over the horizon).
pub const VALIDATION_SNAPSHOTS: usize = 50;

/// What a file gives the pipeline.
pub struct FileData {
    /// The file's path, or what holds the arrays.
    pub path: PathBuf,
    /// Per pair: its observed levels (history, start levels, end), NaN where not observed.
    pub pairs: Vec<ObservedPair>,
    /// Per pair: the time of its last start level.
    pub times: Vec<f64>,
    /// Later snapshots after the first pair's start, for the validation forecast: (model steps
    /// after that start, the snapshot).
    pub later: Vec<(usize, ObservedLevel)>,
    /// Every pair the file holds (before `observations.pairs` chose among them).
    pub available: usize,
}

fn error(source: &str, what: String) -> MedidaError {
    MedidaError::Data(format!("{source}: {what}"))
}

/// Distinct spacings of consecutive times with their counts, for an error message.
fn spacings(times: &[f64]) -> String {
    let mut found: Vec<(f64, usize)> = Vec::new();
    for w in times.windows(2) {
        let d = w[1] - w[0];
        match found
            .iter_mut()
            .find(|(s, _)| (s - d).abs() <= 1e-9 * s.abs().max(d.abs()))
        {
            Some(entry) => entry.1 += 1,
            None => found.push((d, 1)),
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.1));
    let shown: Vec<String> = found
        .iter()
        .take(5)
        .map(|(d, c)| format!("{d:.6e} ({c}×)"))
        .collect();
    if shown.is_empty() {
        "none (a single snapshot)".into()
    } else {
        shown.join(", ")
    }
}

/// The index of the snapshot at time `t` (within 1e-6 of a step), if any.
fn at(times: &[f64], t: f64, dt: f64) -> Option<usize> {
    let i = times.partition_point(|&s| s < t - 1e-6 * dt);
    (i < times.len() && (times[i] - t).abs() <= 1e-6 * dt).then_some(i)
}

/// How the pairs of a file are laid out: start levels and earlier (history) levels one model
/// step apart, then the end `window` model steps after the last start level.
#[derive(Clone, Copy, Debug)]
pub struct PairLayout {
    pub levels: usize,
    pub history: usize,
    pub window: usize,
}

/// Reads and checks the file of `case`; pairs laid out as `layout`, `pairs` = 0 for every
/// pair, `horizon` model steps for the validation forecast; `budget` may refuse the chosen
/// number of pairs before any snapshot is read.
pub fn read(
    snapshots: &dyn Snapshots,
    system: &SystemSettings,
    layout: PairLayout,
    pairs: usize,
    horizon: usize,
    budget: &dyn Fn(usize) -> Result<()>,
) -> Result<FileData> {
    let PairLayout {
        levels,
        history,
        window,
    } = layout;
    let source = snapshots.label();
    let path = source.as_str();
    let names = snapshots.names()?;
    let (fields, shape) = system.fields();
    for name in std::iter::once(&"t").chain(&fields) {
        if !names.iter().any(|n| n == name) {
            return Err(error(
                path,
                format!(
                    "no array `{name}`: a {} observation file holds `t` and {} (it has: {})",
                    system.kind(),
                    fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(", ")
                ),
            ));
        }
    }
    let times = snapshots.vector("t")?;
    let n = times.len();
    if n == 0 {
        return Err(error(path, "`t` is empty: no snapshot".into()));
    }
    if let Some(i) = times.iter().position(|t| !t.is_finite()) {
        return Err(error(
            path,
            format!("`t[{i}]` = {} is not finite", times[i]),
        ));
    }
    if let Some(i) = times.windows(2).position(|w| w[1] <= w[0]) {
        return Err(error(
            path,
            format!(
                "`t` is not strictly increasing: t[{}] = {} then t[{}] = {}",
                i,
                times[i],
                i + 1,
                times[i + 1]
            ),
        ));
    }
    for field in &fields {
        let found = snapshots.shape(field)?;
        let mut wanted = vec![n];
        wanted.extend(&shape);
        if found != wanted {
            return Err(error(
                path,
                format!(
                    "`{field}` has shape {:?}; the [system] grid and the {n} times of `t` need {:?}",
                    found, wanted
                ),
            ));
        }
    }
    for (axis, grid) in system.coordinates() {
        if !names.iter().any(|a| a == axis) {
            continue;
        }
        let given = snapshots.vector(axis)?;
        let span = grid.last().copied().unwrap_or(0.0) - grid[0];
        let tolerance = 1e-9 * span.abs().max(1.0);
        let wrong = given.len() != grid.len()
            || given
                .iter()
                .zip(&grid)
                .any(|(a, b)| (a - b).abs() > tolerance);
        if wrong {
            let first = given
                .iter()
                .zip(&grid)
                .position(|(a, b)| (a - b).abs() > tolerance)
                .unwrap_or(0);
            return Err(error(
                path,
                format!(
                    "`{axis}` disagrees with the [system] grid ({} values; {axis}[{first}] = {} where the grid has {}; the grid is {axis}_j = {} + j·{})",
                    given.len(),
                    given.get(first).copied().unwrap_or(f64::NAN),
                    grid.get(first).copied().unwrap_or(f64::NAN),
                    grid[0],
                    grid.get(1).map_or(0.0, |g| g - grid[0]),
                ),
            ));
        }
    }

    // Pairs from the times: disjoint runs of consecutive model steps, then the end.
    let dt = system.dt();
    let span = history + levels; // levels before the end
    let offset = |m: usize| if m < span { m } else { span - 1 + window };
    let mut candidates: Vec<Vec<usize>> = Vec::new();
    let mut free_from = 0;
    for i in 0..n {
        if i < free_from {
            continue;
        }
        let t = times[i];
        let window: Option<Vec<usize>> = (0..=span)
            .map(|m| at(&times, t + offset(m) as f64 * dt, dt))
            .collect();
        if let Some(window) = window {
            free_from = *window.last().expect("a window") + 1;
            candidates.push(window);
        }
    }
    if candidates.is_empty() {
        return Err(error(
            path,
            format!(
                "no pair at the model's step dt = {dt}{}: a pair needs {} snapshots dt apart{}; the file's spacings are {}",
                if window > 1 { format!(" and observations.interval = {window} steps") } else { String::new() },
                if window > 1 { span } else { span + 1 },
                if window > 1 { format!(", then one {window} steps after the last of them") } else { String::new() },
                spacings(&times)
            ),
        ));
    }
    let available = candidates.len();
    let chosen: Vec<Vec<usize>> = match pairs {
        0 => candidates,
        p if p > available => {
            return Err(error(
                path,
                format!(
                    "`observations.pairs` = {p}, but the file holds {available} pairs at dt = {dt}"
                ),
            ))
        }
        1 => vec![candidates[0].clone()],
        p => (0..p)
            .map(|k| candidates[(k * (available - 1) + (p - 1) / 2) / (p - 1)].clone())
            .collect(),
    };
    budget(chosen.len())?;
    // The validation forecast: snapshots after the first pair's start, whole steps away.
    let start = chosen[0][span - 1];
    let own: Vec<usize> = chosen[0].clone();
    let mut later: Vec<(usize, usize)> = (start + 1..n)
        .filter(|j| !own.contains(j))
        .filter_map(|j| {
            let steps = (times[j] - times[start]) / dt;
            let whole = steps.round();
            ((steps - whole).abs() <= 1e-6 && whole >= 1.0 && whole as usize <= horizon)
                .then_some((whole as usize, j))
        })
        .collect();
    if later.len() > VALIDATION_SNAPSHOTS {
        let m = later.len();
        later = (0..VALIDATION_SNAPSHOTS)
            .map(|k| later[(k + 1) * m / VALIDATION_SNAPSHOTS - 1])
            .collect();
    }

    let mut rows: Vec<usize> = chosen
        .iter()
        .flatten()
        .copied()
        .chain(later.iter().map(|&(_, j)| j))
        .collect();
    rows.sort_unstable();
    rows.dedup();
    let mut values: Vec<Vec<Vec<f64>>> = Vec::new(); // field → row → values
    for field in &fields {
        let data = snapshots.rows(field, &rows)?;
        for (row, snapshot) in rows.iter().zip(&data) {
            if let Some(p) = snapshot.iter().position(|v| v.is_infinite()) {
                return Err(error(
                    path,
                    format!(
                        "`{field}` is ±inf at snapshot {row} (t = {}), point {p}: mark a point not observed with NaN",
                        times[*row]
                    ),
                ));
            }
            if snapshot.iter().all(|v| v.is_nan()) {
                return Err(error(
                    path,
                    format!(
                        "snapshot {row} (t = {}) of `{field}` has no observed point",
                        times[*row]
                    ),
                ));
            }
        }
        values.push(data);
    }
    let level = |row: usize| -> ObservedLevel {
        let r = rows.binary_search(&row).expect("row read");
        ObservedLevel {
            fields: values.iter().map(|f| f[r].clone()).collect(),
            variances: vec![0.0; fields.len()],
        }
    };
    Ok(FileData {
        path: PathBuf::from(&source),
        times: chosen.iter().map(|w| times[w[span - 1]]).collect(),
        pairs: chosen
            .iter()
            .map(|w| w.iter().map(|&r| level(r)).collect())
            .collect(),
        later: later.iter().map(|&(steps, j)| (steps, level(j))).collect(),
        available,
    })
}

/// The observation-noise std of one snapshot of a field relative to its std, from the
/// high-order differences along x (the last axis, periodic lines of `line` points): for
/// white noise of std σ, d = Σ c_k u_{i+k} with binomial c of order p has std σ‖c‖, while a
/// smooth field contributes h^p ∂ˣᵖu, which falls fast with p. The robust std
/// median|d|/0.6745 of orders 4, 6 and 8 each overestimates only by the signal; the least
/// of them is the estimate. Only stencils whose points are all observed count.
pub fn noise_of(field: &[f64], line: usize) -> Option<f64> {
    let lines = field.len() / line.max(1);
    let observed: Vec<f64> = field.iter().copied().filter(|v| !v.is_nan()).collect();
    if observed.len() < 2 || line < 9 {
        return None;
    }
    let mean = observed.iter().sum::<f64>() / observed.len() as f64;
    let variance = observed.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / observed.len() as f64;
    let mut best: Option<f64> = None;
    for order in [4usize, 6, 8] {
        let c: Vec<f64> = (0..=order)
            .map(|k| {
                let binomial = (0..k).fold(1.0, |b, j| b * (order - j) as f64 / (j + 1) as f64);
                if k % 2 == 0 {
                    binomial
                } else {
                    -binomial
                }
            })
            .collect();
        let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut d: Vec<f64> = Vec::with_capacity(field.len());
        for l in 0..lines {
            let row = &field[l * line..(l + 1) * line];
            for i in 0..line {
                let value: f64 = c
                    .iter()
                    .enumerate()
                    .map(|(k, ck)| ck * row[(i + k) % line])
                    .sum();
                if !value.is_nan() {
                    d.push(value.abs());
                }
            }
        }
        if d.len() < 16 {
            continue;
        }
        let mid = d.len() / 2;
        d.select_nth_unstable_by(mid, f64::total_cmp);
        let sigma = d[mid] / 0.674_489_750 / norm;
        best = Some(best.map_or(sigma, |b: f64| b.min(sigma)));
    }
    let sigma = best?;
    // The observed variance holds the noise's too: std(true)² = std(observed)² − σ².
    let signal = (variance - sigma * sigma).max(0.0).sqrt();
    (signal > 0.0).then(|| sigma / signal)
}

/// The noise level of a file's data: the median over every read snapshot and field of
/// [`noise_of`] (relative to the field's std, the meaning of `observations.noise`).
pub fn estimate_noise(data: &FileData, line: usize) -> Option<f64> {
    let mut estimates: Vec<f64> = data
        .pairs
        .iter()
        .flatten()
        .flat_map(|level| level.fields.iter().filter_map(|f| noise_of(f, line)))
        .collect();
    if estimates.is_empty() {
        return None;
    }
    let mid = estimates.len() / 2;
    estimates.select_nth_unstable_by(mid, f64::total_cmp);
    Some(estimates[mid])
}
