//! The first stage of the pipeline: the observed pairs and their state estimates, either
//! from a twin experiment (a simulated truth, observed with noise at the sensors) or from the
//! user's observation file (NaN where not observed). Everything after it is the same.

use crate::case::{Case, Noise, Streaming, Window};
use crate::error::{MedidaError, Result};
use crate::observe::file::{estimate_noise, read, FileData, NpzFile, PairLayout, Snapshots};
use crate::pipeline::analysis::{estimate_states, Estimate};
use crate::pipeline::observe::{observe_pairs, ObservedLevel, ObservedPair};
use crate::pipeline::pairs::{Made, TwinStream, HELD_BYTES, STREAM_CHUNK};
use crate::pipeline::window::{self, WindowChoice};
use crate::pipeline::Progress;
use crate::systems::{System, TruePair};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The observations of a run and the states estimated from them.
pub struct Gathered<V> {
    pub source: Source<V>,
    /// Whether the pairs' truth is known (a twin experiment).
    pub truth_known: bool,
    /// The points observed at every level, when that is not every point.
    pub sensors: Option<Vec<usize>>,
    /// The noise level used (given, or estimated from a file).
    pub noise: f64,
    pub file: Option<FileSource>,
    /// Model steps between the last start level and the end of every pair.
    pub window: usize,
    /// How the window was chosen (None: given as `observations.interval`).
    pub window_choice: Option<WindowChoice>,
}

/// The pairs of a run: made once and held (the true states as the figures show them, or a
/// file's estimates; what was observed; the raw estimates), or made again on every pass.
pub enum Source<V> {
    Held(Made<V>),
    Streamed(TwinStream),
}

/// How many pairs at a time a twin experiment of `pairs` pairs streams (None: it holds
/// them), by `observations.streaming`.
pub fn streams(case: &Case, pairs: usize) -> Result<Option<usize>> {
    Ok(match case.observations.streaming()? {
        Streaming::Always(range) => Some(range),
        Streaming::Never => None,
        Streaming::Auto => {
            (crate::memory::held_pairs(case, pairs) > HELD_BYTES).then_some(STREAM_CHUNK)
        }
    })
}

/// Where file data came from and what the engine made of it.
pub struct FileSource {
    pub path: std::path::PathBuf,
    /// Pairs the file holds at the model's step.
    pub available: usize,
    /// The noise estimated from the data (`noise = "auto"`).
    pub noise_estimate: Option<f64>,
    /// Later snapshots for the validation forecast: (model steps after the first pair's
    /// start, the snapshot).
    pub later: Vec<(usize, ObservedLevel)>,
}

/// Twin experiment: the truth's pairs observed with noise at the sensors.
pub fn twin<S: System>(
    case: &Case,
    system: &mut S,
    history: usize,
    progress: Progress,
) -> Result<Gathered<S::Value>> {
    let noise = case.noise();
    system.check_design(case.observations.pairs)?;
    let sensors = case
        .observations
        .sensors(system.grid_points())?
        .points(system.grid_points(), case.seed);
    let windows = candidate_windows(case, system.dt(), system.window_candidates())?;
    let count = case.observations.pairs;
    let stream = streams(case, count)?;
    progress("truth run")?;
    let mut truth = match stream {
        Some(_) => None,
        None => Some(system.truth_pairs(count, history, &windows)?),
    };
    let mut choice = None;
    let mut chosen = 0;
    if windows.len() > 1 {
        progress("choosing the window")?;
        let pilot = window::pilot_pairs(count);
        let pilot_truth = match &truth {
            Some(truth) => truth[..pilot].to_vec(),
            None => system.truth_pairs_in(count, history, &windows, 0..pilot)?,
        };
        let mut trials = Vec::new();
        for (i, &w) in windows.iter().enumerate() {
            let pairs: Vec<TruePair<S::Value>> =
                pilot_truth.iter().map(|p| p.with_end(i)).collect();
            let observed = observe_pairs(system, &pairs, 0, noise, case.seed, i);
            trials.push((
                w,
                estimate_states(system, &pairs, Some(&observed), sensors.as_deref())?,
            ));
        }
        let found = window::choose(system, &trials, noise, case.seed)?;
        chosen = found.index;
        choice = Some(found);
        truth = truth.map(|t| t.into_iter().map(|p| p.with_end(chosen)).collect());
    }
    if sensors.is_some() {
        progress(&format!(
            "interpolating with {}",
            system.interpolator_label()
        ))?;
    }
    let twin = TwinStream {
        count,
        range: stream.unwrap_or(count),
        history,
        windows: windows.clone(),
        end: chosen,
        noise,
        seed: case.seed,
        sensors: sensors.clone(),
    };
    let source = match truth {
        None => Source::Streamed(twin),
        Some(truth) => {
            let exact = noise == 0.0 && sensors.is_none();
            let observed =
                (!exact).then(|| observe_pairs(system, &truth, 0, noise, case.seed, chosen));
            let estimates =
                estimate_states(system, &truth, observed.as_deref(), sensors.as_deref())?;
            Source::Held(Made {
                truth,
                observed,
                estimates,
            })
        }
    };
    Ok(Gathered {
        source,
        truth_known: true,
        sensors,
        noise,
        file: None,
        window: windows[chosen],
        window_choice: choice,
    })
}

/// The windows (model steps) the case asks to try: the one given, one step noise-free or
/// with an ensemble filter (its analyses average the noise), else the candidates of `auto`.
fn candidate_windows(case: &Case, dt: f64, candidates: Vec<usize>) -> Result<Vec<usize>> {
    Ok(match case.observations.window(dt)? {
        Window::Steps(n) => vec![n],
        Window::Auto if case.noise() == 0.0 || case.assimilation.method.is_ensemble() => vec![1],
        Window::Auto => candidates,
    })
}

/// The user's file: pairs found from its times, fields fitted through the observed points
/// of each snapshot (snapshots with the same observed points in one batch).
pub fn from_file<S: System>(
    case: &Case,
    system: &mut S,
    history: usize,
    progress: Progress,
) -> Result<Gathered<S::Value>> {
    let file = case.observations.file.as_deref().map(NpzFile);
    let snapshots: &dyn Snapshots = match (&file, &case.observations.arrays) {
        (_, Some(arrays)) => arrays.as_ref(),
        (Some(file), None) => {
            if !file.0.exists() {
                return Err(MedidaError::Data(format!(
                    "{}: no such observation file",
                    file.0.display()
                )));
            }
            file
        }
        (None, None) => unreachable!("from_file runs on observations from data"),
    };
    let path = PathBuf::from(snapshots.label());
    progress(&format!("reading {}", path.display()))?;
    let (interval, count) = system.skill_schedule();
    let horizon = (interval * count as f64 / system.dt()).round() as usize;
    let windows = match case.observations.window(system.dt())? {
        Window::Steps(n) => vec![n],
        Window::Auto if case.assimilation.method.is_ensemble() => vec![1],
        Window::Auto => system.window_candidates(),
    };
    // The windows the file offers pairs at (all of them when one is given).
    let mut offered: Vec<(usize, FileData)> = Vec::new();
    let mut first_error = None;
    for &w in &windows {
        let layout = PairLayout {
            levels: system.start_levels(),
            history,
            window: w,
        };
        match read(
            snapshots,
            &case.system,
            layout,
            case.observations.pairs,
            horizon,
            &|pairs| crate::memory::check(case, pairs),
        ) {
            Ok(data) => offered.push((w, data)),
            // A window the file does not offer is skipped by `auto`, unless it is the first
            // (one model step) or the only one: then its error is the answer.
            Err(e) if offered.is_empty() => {
                if windows.len() == 1 || w == 1 {
                    return Err(e);
                }
                first_error.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    if offered.is_empty() {
        return Err(first_error.expect("an error per window"));
    }
    let data = &offered[0].1;
    system.check_design(data.pairs.len())?;
    let line = *case.system.fields().1.last().expect("a grid");
    let (noise, noise_estimate) = match case.observations.noise {
        Noise::Given(v) => (v, None),
        Noise::Auto => {
            let v = estimate_noise(data, line).ok_or_else(|| {
                MedidaError::Data(format!(
                    "{}: `observations.noise = \"auto\"` could not estimate the noise (too few observed neighbouring points); give it as a number",
                    path.display()
                ))
            })?;
            if v >= crate::case::MAX_NOISE {
                return Err(MedidaError::Data(format!(
                    "{}: the noise estimated from the data ({v:.2} × the field's std) is as large as the signal itself; nothing can be learned from these observations",
                    path.display()
                )));
            }
            (v, Some(v))
        }
    };
    // The filters weigh each field by its noise variance: noise × std of the true field.
    for (_, data) in offered.iter_mut() {
        for level in data.pairs.iter_mut().flatten() {
            level.variances = level
                .fields
                .iter()
                .map(|f| (noise * true_std(f, noise)).powi(2))
                .collect();
        }
    }
    let mut choice = None;
    let mut chosen = 0;
    if offered.len() > 1 && noise > 0.0 && windows.len() > 1 {
        progress("choosing the window")?;
        let mut trials = Vec::new();
        for (w, data) in &offered {
            let pilot = &data.pairs[..window::pilot_pairs(data.pairs.len())];
            let masks: Vec<Option<Vec<usize>>> = pilot.iter().flatten().map(mask).collect();
            trials.push((
                *w,
                estimate_levels(system, pilot, &masks, history, progress)?,
            ));
        }
        let found = window::choose(system, &trials, noise, case.seed)?;
        chosen = found.index;
        choice = Some(found);
    }
    let (window, data) = offered.swap_remove(chosen);
    drop(offered);
    system.check_design(data.pairs.len())?;
    let FileData {
        path,
        pairs,
        times,
        later,
        available,
    } = data;
    let masks: Vec<Option<Vec<usize>>> = pairs.iter().flatten().map(mask).collect();
    let estimates = estimate_levels(system, &pairs, &masks, history, progress)?;
    let sensors = if masks.iter().all(|m| *m == masks[0]) {
        masks[0].clone()
    } else {
        if case.assimilation.method.is_ensemble() {
            return Err(MedidaError::Config(format!(
                "{}: an ensemble filter needs the same observed points at every time; this file's NaN change from snapshot to snapshot (use `assimilation.method = \"none\"`)",
                path.display()
            )));
        }
        None
    };
    let shown = estimates
        .iter()
        .zip(&times)
        .map(|(e, &time)| TruePair {
            history: e.history.clone(),
            start: e.start.clone(),
            end: e.end.clone(),
            other_ends: Vec::new(),
            time,
        })
        .collect();
    Ok(Gathered {
        source: Source::Held(Made {
            truth: shown,
            observed: Some(pairs),
            estimates,
        }),
        truth_known: false,
        sensors,
        noise,
        file: Some(FileSource {
            path,
            available,
            noise_estimate,
            later,
        }),
        window,
        window_choice: choice,
    })
}

/// std of a field's observed values with the noise's share taken out.
fn true_std(field: &[f64], noise: f64) -> f64 {
    let observed: Vec<f64> = field.iter().copied().filter(|v| !v.is_nan()).collect();
    let std = crate::library::rows::std_of(&observed);
    std / (1.0 + noise * noise).sqrt()
}

/// The points a level observes in every field (None: all of them).
fn mask(level: &ObservedLevel) -> Option<Vec<usize>> {
    let points = level.fields[0].len();
    let observed: Vec<usize> = (0..points)
        .filter(|&p| level.fields.iter().all(|f| !f[p].is_nan()))
        .collect();
    (observed.len() < points).then_some(observed)
}

/// The states of every level: the fields as observed where complete, fitted through the
/// observed points elsewhere (one batch per set of observed points, levels in order).
fn estimate_levels<S: System>(
    system: &mut S,
    pairs: &[ObservedPair],
    masks: &[Option<Vec<usize>>],
    history: usize,
    progress: Progress,
) -> Result<Vec<Estimate<S::Value>>> {
    let levels: Vec<&ObservedLevel> = pairs.iter().flatten().collect();
    let mut groups: BTreeMap<&[usize], Vec<usize>> = BTreeMap::new();
    let mut fields: Vec<Option<Vec<Vec<f64>>>> = vec![None; levels.len()];
    for (i, (level, mask)) in levels.iter().zip(masks).enumerate() {
        match mask {
            None => fields[i] = Some(level.fields.clone()),
            Some(points) => groups.entry(points.as_slice()).or_default().push(i),
        }
    }
    if !groups.is_empty() {
        progress(&format!(
            "interpolating with {}",
            system.interpolator_label()
        ))?;
    }
    for (points, members) in &groups {
        let values: Vec<Vec<f64>> = members
            .iter()
            .flat_map(|&i| levels[i].at(Some(points)))
            .collect();
        let fitted = system.interpolate(points, &values)?;
        let per_level = levels[members[0]].fields.len();
        for (&i, chunk) in members.iter().zip(fitted.chunks_exact(per_level)) {
            fields[i] = Some(chunk.to_vec());
        }
    }
    let mut states = fields
        .into_iter()
        .map(|f| system.state_from(&f.expect("every level estimated")))
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    Ok(pairs
        .iter()
        .map(|pair| {
            let mut all: Vec<Vec<S::Value>> = states.by_ref().take(pair.len()).collect();
            let end = all.pop().expect("a pair has an end level");
            let start = all.split_off(history);
            Estimate {
                history: all,
                start,
                end,
            }
        })
        .collect())
}

/// `medida simulate`: the observations a twin experiment of `case` makes (noise added, NaN
/// where no sensor is), written to `out` in the observation-file format: `t`, the observed
/// fields on the grid, and the grid's coordinates. Returns the number of snapshots.
pub fn simulate<S: System>(
    case: &Case,
    system: &mut S,
    out: &std::path::Path,
    progress: Progress,
) -> Result<usize> {
    if case.observations.from_data() {
        return Err(MedidaError::Config(
            "`observations.file`: this case reads its observations; simulate writes those of a twin experiment (a case with a [truth])".into(),
        ));
    }
    let history = case.assimilation.history();
    let noise = case.noise();
    let sensors = case
        .observations
        .sensors(system.grid_points())?
        .points(system.grid_points(), case.seed);
    // Every window `auto` may choose among, each end with its own noise.
    let windows = candidate_windows(case, system.dt(), system.window_candidates())?;
    progress("truth run")?;
    let truth = system.truth_pairs(case.observations.pairs, history, &windows)?;
    let dt = system.dt();
    let mut snapshots: Vec<(f64, Vec<Vec<f64>>)> = Vec::new();
    for (i, &window) in windows.iter().enumerate() {
        let pairs: Vec<TruePair<S::Value>> = truth.iter().map(|p| p.with_end(i)).collect();
        let observed = observe_pairs(system, &pairs, 0, noise, case.seed, i);
        for (pair, levels) in pairs.iter().zip(observed) {
            let last_start = history + pair.start.len() - 1;
            for (m, level) in levels.into_iter().enumerate() {
                let steps = if m > last_start {
                    window as f64
                } else {
                    m as f64 - last_start as f64
                };
                let mut fields = level.fields;
                if let Some(points) = &sensors {
                    for field in fields.iter_mut() {
                        let mut masked = vec![f64::NAN; field.len()];
                        for &p in points {
                            masked[p] = field[p];
                        }
                        *field = masked;
                    }
                }
                snapshots.push((pair.time + steps * dt, fields));
            }
        }
    }
    snapshots.sort_by(|a, b| a.0.total_cmp(&b.0));
    snapshots.dedup_by(|a, b| (a.0 - b.0).abs() <= 1e-9 * dt);
    write_observations(out, &case.system, &snapshots)?;
    Ok(snapshots.len())
}

/// Writes snapshots (time, observed fields) in the observation-file format.
pub fn write_observations(
    out: &std::path::Path,
    system: &crate::systems::SystemSettings,
    snapshots: &[(f64, Vec<Vec<f64>>)],
) -> Result<()> {
    use ndarray::{Array1, ArrayD, IxDyn};
    let io = |e: &dyn std::fmt::Display| MedidaError::io(out, e.to_string());
    let (names, shape) = system.fields();
    let file = std::fs::File::create(out).map_err(|e| MedidaError::io(out, e))?;
    let mut npz = ndarray_npy::NpzWriter::new(file);
    let times = Array1::from_iter(snapshots.iter().map(|s| s.0));
    npz.add_array("t", &times).map_err(|e| io(&e))?;
    let mut dims = vec![snapshots.len()];
    dims.extend(&shape);
    for (f, name) in names.iter().enumerate() {
        let data: Vec<f64> = snapshots.iter().flat_map(|s| s.1[f].clone()).collect();
        let array = ArrayD::from_shape_vec(IxDyn(&dims), data).map_err(|e| io(&e))?;
        npz.add_array(*name, &array).map_err(|e| io(&e))?;
    }
    for (axis, values) in system.coordinates() {
        npz.add_array(axis, &Array1::from(values))
            .map_err(|e| io(&e))?;
    }
    npz.finish().map_err(|e| io(&e))?;
    Ok(())
}
