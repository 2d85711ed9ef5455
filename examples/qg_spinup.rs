//! Spins up the authors' two-layer QG jet in a channel (JAMES 2023: 96 × 192 on 46 × 68,
//! leapfrog + Robert–Asselin, Δt = 0.025, 10,000 steps from a tiny random state), then keeps
//! snapshots every 40 steps for 10 time units. Writes the final PV and streamfunction of both
//! layers as `.npy` and PNG/SVG maps, the layer-mean kinetic energy per snapshot and the
//! time-mean zonal-mean zonal wind u(y) of both layers (CSV and plot).
//!
//!     cargo run --release --example qg_spinup -- [OUT_DIR] [--steps N]

mod common;

use medida::output::plots::{save_figure, Field2d, Lines};
use medida::solvers::{QgModel, QgParams, QgScheme, QgStepper, Stepper};
use ndarray::Array2;
use ndarray_npy::write_npy;
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args = common::arguments();
    let out = common::out_dir(&args, "out/qg-spinup");
    let steps: usize = common::option(&args, "--steps")?.unwrap_or(10_000);
    std::fs::create_dir_all(&out)?;
    let params = QgParams::medida_jet();
    let (nx, ny) = (params.nx, params.ny);
    let model = QgModel::new(params)?;
    let x = model.grid().x();
    let y = model.grid().y();
    let kx = model.grid().kx();
    let n = model.modes();

    // A tiny random state on the large scales (|k|, |l| ≤ 6 modes), seeded.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut q = vec![Complex64::new(0.0, 0.0); 2 * n];
    for layer in 0..2 {
        for j in (0..=6).chain(ny - 6..ny) {
            for i in 1..=6 {
                let amplitude = 1e-3 * (nx * ny) as f64;
                q[layer * n + j * kx + i] = Complex64::new(
                    amplitude * rng.gen_range(-1.0..1.0),
                    amplitude * rng.gen_range(-1.0..1.0),
                );
            }
        }
    }
    let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, 0.025)?;
    let clock = Instant::now();
    stepper.advance(&mut q, steps, 0)?;
    let seconds = clock.elapsed().as_secs_f64();
    println!(
        "QG spin-up: {steps} leapfrog steps of 0.025 in {seconds:.2} s ({:.3} ms/step)",
        1e3 * seconds / steps as f64
    );

    // Snapshots every 40 steps for 10 time units: energy and zonal-mean zonal wind.
    let mut energy_file = std::fs::File::create(out.join("layer_energy.csv"))?;
    writeln!(
        energy_file,
        "time,kinetic_energy_layer1,kinetic_energy_layer2"
    )?;
    let mut wind = [vec![0.0; ny], vec![0.0; ny]];
    let snapshots = 10;
    let mut psi = vec![Complex64::new(0.0, 0.0); 2 * n];
    let mut physical = vec![0.0; 2 * nx * ny];
    for s in 1..=snapshots {
        stepper.advance(&mut q, 40, steps + (s - 1) * 40)?;
        let model = stepper.model_mut();
        model.invert(&q, &mut psi);
        let mut energies = [0.0; 2];
        for layer in 0..2 {
            // u = −ψ_y, v = ψ_x
            let grid = model.grid();
            let velocity: Vec<Complex64> = (0..2 * n)
                .map(|m| {
                    let mode = m % n;
                    let (row, column) = (mode / kx, mode % kx);
                    let factor = if m < n {
                        -grid.dy_factor(row, column)
                    } else {
                        grid.dx_factor(row, column)
                    };
                    factor * psi[layer * n + mode]
                })
                .collect();
            model.to_physical(&velocity, &mut physical);
            let (u, v) = physical.split_at(nx * ny);
            energies[layer] =
                0.5 * u.iter().chain(v).map(|w| w * w).sum::<f64>() / (nx * ny) as f64;
            for (j, row) in u.chunks_exact(nx).enumerate() {
                wind[layer][j] += row.iter().sum::<f64>() / nx as f64 / snapshots as f64;
            }
        }
        let time = (steps + s * 40) as f64 * 0.025;
        writeln!(energy_file, "{time},{},{}", energies[0], energies[1])?;
    }
    let mut wind_file = std::fs::File::create(out.join("zonal_mean_zonal_wind.csv"))?;
    writeln!(wind_file, "y,u_layer1,u_layer2")?;
    for j in 0..ny {
        writeln!(wind_file, "{},{},{}", y[j], wind[0][j], wind[1][j])?;
    }

    // Final maps and .npy snapshots.
    let model = stepper.model_mut();
    model.invert(&q, &mut psi);
    let mut q_field = vec![0.0; 2 * nx * ny];
    let mut psi_field = vec![0.0; 2 * nx * ny];
    model.to_physical(&q, &mut q_field);
    model.to_physical(&psi, &mut psi_field);
    if !q_field.iter().chain(&psi_field).all(|v| v.is_finite()) {
        anyhow::bail!("the spun-up state is not finite");
    }
    let mut written = Vec::new();
    for (name, field) in [("q", &q_field), ("psi", &psi_field)] {
        for layer in 0..2 {
            let array = Array2::from_shape_vec(
                (ny, nx),
                field[layer * nx * ny..(layer + 1) * nx * ny].to_vec(),
            )?;
            let stem = format!("{name}{}", layer + 1);
            write_npy(out.join(format!("{stem}.npy")), &array)?;
            let title = format!(
                "{} of layer {} after {steps} steps (t = {})",
                if name == "q" {
                    "PV anomaly"
                } else {
                    "streamfunction"
                },
                layer + 1,
                (steps + snapshots * 40) as f64 * 0.025
            );
            written.extend(save_figure(
                &out,
                &stem,
                &Field2d {
                    title,
                    quantity: format!("{name}{}", layer + 1),
                    x: &x,
                    y: &y,
                    field: &array,
                },
            )?);
        }
    }
    written.extend(save_figure(
        &out,
        "zonal_mean_zonal_wind",
        &Lines {
            title: "time-mean zonal-mean zonal wind".into(),
            x_label: "y".into(),
            y_label: "u".into(),
            series: vec![
                ("layer 1".into(), &y, &wind[0]),
                ("layer 2".into(), &y, &wind[1]),
            ],
            log_y: false,
        },
    )?);
    for path in written {
        println!("wrote {}", path.display());
    }
    let peak = wind[0].iter().fold(0.0f64, |m, v| m.max(*v));
    println!("layer-1 jet: peak zonal-mean wind {peak:.3}; energies in layer_energy.csv");
    Ok(())
}
