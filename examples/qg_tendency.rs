//! medida's side of `scripts/compare_pyqg.py`: reads a two-layer PV field (an `.npy` of shape
//! (2, ny, nx)), builds the QG model in pyqg's configuration (no dealiasing, no sponge,
//! relaxation or hyperviscosity; F1, F2, β, U1, U2 and bottom drag from the command line),
//! writes its tendency and the state after `--steps` AB3 steps, and prints the time per step.
//!
//!     cargo run --release --example qg_tendency -- IN.npy OUT_DIR --length L --beta B \
//!         --f1 F1 --f2 F2 --u1 U1 --u2 U2 --drag R --dt DT --steps N

mod common;

use medida::solvers::{QgModel, QgParams, QgScheme, QgStepper, Stepper};
use ndarray::Array3;
use ndarray_npy::{read_npy, write_npy};
use num_complex::Complex64;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args = common::arguments();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: qg_tendency IN.npy OUT_DIR --length L ..."
    );
    let input = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let option = |name: &str| common::required::<f64>(&args, name);
    let q0: Array3<f64> = read_npy(&input)?;
    let (layers, ny, nx) = q0.dim();
    anyhow::ensure!(layers == 2, "expected two layers, got {layers}");
    let length = option("--length")?;
    let params = QgParams {
        f1: option("--f1")?,
        f2: option("--f2")?,
        beta: option("--beta")?,
        shear: (option("--u1")?, option("--u2")?),
        drag: option("--drag")?,
        dealias: false,
        ..QgParams::inviscid(nx, ny, length, length, 1.0, 0.0)
    };
    let mut model = QgModel::new(params)?;
    let flat: Vec<f64> = q0.iter().copied().collect();
    let q = model.to_spectral(&flat)?;
    let mut tendency = vec![Complex64::new(0.0, 0.0); q.len()];
    model.tendency(&q, &mut tendency);
    let mut physical = vec![0.0; flat.len()];
    model.to_physical(&tendency, &mut physical);
    std::fs::create_dir_all(&out)?;
    write_npy(
        out.join("tendency.npy"),
        &Array3::from_shape_vec((2, ny, nx), physical.clone())?,
    )?;

    let steps = option("--steps")? as usize;
    let mut stepper = QgStepper::new(model, QgScheme::Ab3, option("--dt")?)?;
    let mut state = q.clone();
    stepper.advance(&mut state, steps, 0)?;
    stepper.model_mut().to_physical(&state, &mut physical);
    write_npy(
        out.join("after.npy"),
        &Array3::from_shape_vec((2, ny, nx), physical)?,
    )?;

    // Timing: more steps from the same state (tiny fields stay linear and finite).
    let repeats = (2_000_000 / (nx * ny)).max(20);
    let mut timed = q;
    stepper.reset();
    let clock = Instant::now();
    for _ in 0..repeats {
        stepper.step(&mut timed);
    }
    let ms = 1e3 * clock.elapsed().as_secs_f64() / repeats as f64;
    println!("nx={nx} ny={ny} ms_per_step={ms:.4}");
    Ok(())
}
