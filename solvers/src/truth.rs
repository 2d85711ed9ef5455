//! Long truth runs that keep only requested snapshots (never the whole trajectory).

use crate::error::{check_finite, Result, SolverError};
use crate::etdrk4::Etdrk4;
use crate::stepper::Stepper;
use ndarray::Array2;
use std::f64::consts::PI;
use std::path::Path;

/// The KS paper's initial state, `-cos(2πx/L) (1 + sin(-2πx/L))`.
pub fn medida_initial_state(x: &[f64], length: f64) -> Vec<f64> {
    x.iter()
        .map(|&x| {
            let phase = 2.0 * PI * x / length;
            -phase.cos() * (1.0 + (-phase).sin())
        })
        .collect()
}

/// States at chosen steps of one run.
#[derive(Clone, Debug)]
pub struct Snapshots {
    /// Step index of each snapshot (0 = initial state).
    pub steps: Vec<usize>,
    /// Time of each snapshot.
    pub times: Vec<f64>,
    /// One row per snapshot, one column per grid point.
    pub states: Array2<f64>,
}

impl Snapshots {
    /// Writes `<stem>_states.npy` (snapshots × points) and `<stem>_times.npy`.
    pub fn write_npy(&self, directory: &Path, stem: &str) -> Result<()> {
        let io = |path: &Path, e: &dyn std::fmt::Display| SolverError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(directory).map_err(|e| io(directory, &e))?;
        let states = directory.join(format!("{stem}_states.npy"));
        ndarray_npy::write_npy(&states, &self.states).map_err(|e| io(&states, &e))?;
        let times = directory.join(format!("{stem}_times.npy"));
        let time_array = ndarray::Array1::from(self.times.clone());
        ndarray_npy::write_npy(&times, &time_array).map_err(|e| io(&times, &e))?;
        Ok(())
    }
}

/// Where a truth run stands: its step and its spectrum. A run resumed from a checkpoint
/// continues exactly (to the bit) as the uninterrupted run would have, ETDRK4 being a one-step
/// scheme with no state of its own.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub step: usize,
    pub spectrum: Vec<num_complex::Complex64>,
}

impl Checkpoint {
    /// The start of a run from the physical state `initial`.
    pub fn initial(stepper: &mut Etdrk4, initial: &[f64]) -> Result<Self> {
        check_finite(initial)?;
        Ok(Checkpoint {
            step: 0,
            spectrum: stepper.model_mut().to_spectral(initial)?,
        })
    }
}

/// Integrates from `initial` with ETDRK4 and keeps the states at the given step indices
/// (any order, repeats allowed); memory is one state per snapshot.
pub fn run_with_snapshots(
    stepper: &mut Etdrk4,
    initial: &[f64],
    snapshot_steps: &[usize],
) -> Result<Snapshots> {
    let from = Checkpoint::initial(stepper, initial)?;
    Ok(resume_with_snapshots(stepper, &from, snapshot_steps, &[])?.0)
}

/// [`run_with_snapshots`] resumed from `from` (every snapshot step at or after it), also
/// returning the checkpoints at the steps `then` (at or after `from`; ascending, as they are
/// reached).
pub fn resume_with_snapshots(
    stepper: &mut Etdrk4,
    from: &Checkpoint,
    snapshot_steps: &[usize],
    then: &[usize],
) -> Result<(Snapshots, Vec<Checkpoint>)> {
    let points = stepper.model().points();
    let mut order: Vec<usize> = snapshot_steps.to_vec();
    order.sort_unstable();
    order.dedup();
    let earliest = order.iter().chain(then).min();
    assert!(
        earliest.is_none_or(|&s| s >= from.step),
        "a step before the checkpoint"
    );
    let mut stops = order.clone();
    stops.extend(then);
    stops.sort_unstable();
    stops.dedup();
    let mut spectrum = from.spectrum.clone();
    let mut states = Array2::zeros((order.len(), points));
    let mut physical = vec![0.0; points];
    let mut step = from.step;
    let mut row = 0;
    let mut checkpoints = Vec::new();
    for &target in &stops {
        stepper.advance(&mut spectrum, target - step, step)?;
        step = target;
        if then.contains(&target) {
            checkpoints.push(Checkpoint {
                step,
                spectrum: spectrum.clone(),
            });
        }
        if order.get(row) != Some(&target) {
            continue;
        }
        stepper.model_mut().to_physical(&spectrum, &mut physical);
        if physical.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::NonFinite {
                time: step as f64 * stepper.dt(),
                step,
            });
        }
        states
            .row_mut(row)
            .assign(&ndarray::ArrayView1::from(&physical[..]));
        row += 1;
    }
    let dt = stepper.dt();
    Ok((
        Snapshots {
            times: order.iter().map(|&s| s as f64 * dt).collect(),
            steps: order,
            states,
        },
        checkpoints,
    ))
}
