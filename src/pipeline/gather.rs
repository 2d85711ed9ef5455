//! The first stage of the pipeline: the observed pairs and their state estimates, either
//! from a twin experiment (a simulated truth, observed with noise at the sensors) or from the
//! user's observation file (NaN where not observed). Everything after it is the same.

use crate::case::{Case, Noise};
use crate::error::{MedidaError, Result};
use crate::observe::file::{estimate_noise, read, FileData, NpzFile, Snapshots};
use crate::pipeline::analysis::{estimate_states, Estimate};
use crate::pipeline::observe::{observe_pairs, ObservedLevel, ObservedPair};
use crate::pipeline::Progress;
use crate::systems::{System, TruePair};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The observations of a run and the states estimated from them.
pub struct Gathered<V> {
    /// The pairs as the figures show them: the true states (twin), or the estimates (file).
    pub pairs: Vec<TruePair<V>>,
    /// Whether `pairs` are a known truth (a twin experiment).
    pub truth_known: bool,
    /// The observed levels of every pair (None: exact full observations of a twin).
    pub observed: Option<Vec<ObservedPair>>,
    /// The points observed at every level, when that is not every point.
    pub sensors: Option<Vec<usize>>,
    pub estimates: Vec<Estimate<V>>,
    /// The noise level used (given, or estimated from a file).
    pub noise: f64,
    pub file: Option<FileSource>,
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
    progress("truth run")?;
    let truth = system.truth_pairs(case.observations.pairs, history)?;
    let exact = noise == 0.0 && sensors.is_none();
    let observed = (!exact).then(|| observe_pairs(system, &truth, noise, case.seed));
    if sensors.is_some() {
        progress(&format!(
            "interpolating with {}",
            system.interpolator_label()
        ))?;
    }
    let estimates = estimate_states(system, &truth, observed.as_deref(), sensors.as_deref())?;
    Ok(Gathered {
        pairs: truth,
        truth_known: true,
        observed,
        sensors,
        estimates,
        noise,
        file: None,
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
    let data = read(
        snapshots,
        &case.system,
        system.start_levels(),
        history,
        case.observations.pairs,
        horizon,
        &|pairs| crate::memory::check(case, pairs),
    )?;
    system.check_design(data.pairs.len())?;
    let line = *case.system.fields().1.last().expect("a grid");
    let (noise, noise_estimate) = match case.observations.noise {
        Noise::Given(v) => (v, None),
        Noise::Auto => {
            let v = estimate_noise(&data, line).ok_or_else(|| {
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
    let FileData {
        path,
        mut pairs,
        times,
        later,
        available,
    } = data;
    // The filters weigh each field by its noise variance: noise × std of the true field.
    for level in pairs.iter_mut().flatten() {
        level.variances = level
            .fields
            .iter()
            .map(|f| (noise * true_std(f, noise)).powi(2))
            .collect();
    }
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
            time,
        })
        .collect();
    Ok(Gathered {
        pairs: shown,
        truth_known: false,
        observed: Some(pairs),
        sensors,
        estimates,
        noise,
        file: Some(FileSource {
            path,
            available,
            noise_estimate,
            later,
        }),
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
    progress("truth run")?;
    let truth = system.truth_pairs(case.observations.pairs, history)?;
    let observed = observe_pairs(system, &truth, noise, case.seed);
    let dt = system.dt();
    let mut snapshots: Vec<(f64, Vec<Vec<f64>>)> = Vec::new();
    for (pair, levels) in truth.iter().zip(observed) {
        let last_start = history + pair.start.len() - 1;
        for (m, level) in levels.into_iter().enumerate() {
            let time = pair.time + (m as f64 - last_start as f64) * dt;
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
            snapshots.push((time, fields));
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
