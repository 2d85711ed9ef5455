//! Interpolators for sparse, noisy QG sensors (JAMES 2023, sparse observations): how well each
//! one rebuilds ψ1 of the spun-up jet from a random fraction of the grid points with 0.1 %
//! noise, and what that does to the discovery.
//!
//! 1. One truth snapshot: relative rms error of ψ1 and of q1 (which takes a Laplacian of the
//!    fit), seconds, and the radially averaged power spectrum of the truth and of every
//!    interpolation — the figure of the paper's spectral-bias finding (a plain network loses
//!    the small scales; Fourier features bring them back). Writes
//!    `interpolation_spectra.{png,svg,csv}` and the sensor mask `sensor_mask.png`.
//! 2. With `--table`: MEDIDA on cases 1001 and 1002 for sensor fractions 1, 0.75, 0.5, 0.25 and
//!    each closed-form interpolator (10 pairs, 0.1 % noise, low-pass |K| ≤ 1.5): terms found,
//!    worst coefficient error, interpolation seconds. `--mlp` adds the two networks to the
//!    table for case 1001 at 50 % (1 pair: they train one network per field).
//!
//! Usage (options: `--fraction 0.5 --epochs 2000 --width 64 --table --mlp`):
//!
//!     cargo run --release --example qg_interpolators -- [OUT_DIR] [OPTIONS]

mod common;

use medida::library::rows::std_of;
use medida::observe::fourier_2d::{interpolate, radial_spectrum, InterpolatorKind};
use medida::observe::mlp::MlpSettings;
use medida::observe::sensors::sensor_mask;
use medida::output::plots::{save_figure, sensor_mask_figure, Lines};
use medida::solvers::QgModel;
use medida::systems::qg::{truth_states, QgSettings};
use medida::systems::SystemSettings;
use medida::{Case, Discovery};
use num_complex::Complex64;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn case(name: &str) -> anyhow::Result<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("data/qg/{name}.toml"));
    Ok(Case::from_file(&path)?)
}

/// The QG settings of a QG case.
fn qg(case: &mut Case) -> &mut QgSettings {
    match &mut case.system {
        SystemSettings::Qg(s) => s,
        _ => panic!("a QG case"),
    }
}

fn main() -> anyhow::Result<()> {
    let args = common::arguments();
    let out = common::out_dir(&args, "out/qg-interpolators");
    std::fs::create_dir_all(&out)?;
    let fraction: f64 = common::option(&args, "--fraction")?.unwrap_or(0.5);
    let epochs: usize = common::option(&args, "--epochs")?.unwrap_or(2000);
    let width: usize = common::option(&args, "--width")?.unwrap_or(64);
    let mlp = MlpSettings {
        width,
        epochs,
        ..MlpSettings::default()
    };
    let mlp_rff = MlpSettings {
        fourier_features: 128,
        sigma: 1.0,
        ..mlp.clone()
    };
    let closed_form = [
        InterpolatorKind::Fourier {
            ratio: 0.3,
            zonal_mean: true,
        },
        InterpolatorKind::Rff {
            features: 4000,
            sigma: 1.0,
            ridge: 1e-8,
        },
        // The authors' feature scale (σ = 10 on [−π, π) coordinates).
        InterpolatorKind::Rff {
            features: 4000,
            sigma: 10.0,
            ridge: 1e-8,
        },
    ];
    let networks = [InterpolatorKind::Mlp(mlp), InterpolatorKind::Mlp(mlp_rff)];

    // Part 1: one snapshot, ψ1.
    let mut base = case("qg-case1001")?;
    base.observations.pairs = 1;
    let seed = base.seed;
    let states = truth_states(qg(&mut base), seed, 1, 0)?;
    let mut model = QgModel::new(qg(&mut base).truth_params())?;
    let (n, points) = (model.modes(), model.grid().points());
    let mut psi = vec![Complex64::new(0.0, 0.0); 2 * n];
    model.invert(&states[0], &mut psi);
    let mut fields = vec![0.0; 2 * points];
    model.to_physical(&psi, &mut fields);
    let truth = fields[..points].to_vec();
    let sensors = sensor_mask(points, fraction, base.seed)?;
    let noise = Normal::new(0.0, 1e-3 * std_of(&truth))?;
    let mut rng = ChaCha8Rng::seed_from_u64(base.seed);
    let observed: Vec<f64> = sensors
        .iter()
        .map(|&p| truth[p] + noise.sample(&mut rng))
        .collect();

    let mut grid = model.grid().clone();
    let laplacian = |grid: &mut medida::solvers::Spectral2d, f: &[f64]| {
        let mut s = vec![Complex64::new(0.0, 0.0); grid.modes()];
        grid.forward(f, &mut s);
        let kx = grid.kx();
        for (m, v) in s.iter_mut().enumerate() {
            *v *= -grid.wavenumber_squared(m / kx, m % kx);
        }
        let mut out = vec![0.0; f.len()];
        grid.inverse(&s, &mut out);
        out
    };
    let relative = |a: &[f64], b: &[f64]| {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        (num / den).sqrt()
    };
    let truth_lap = laplacian(&mut grid, &truth);
    let truth_spectrum = radial_spectrum(&mut grid, &truth);
    let mut spectra = vec![("truth".to_string(), truth_spectrum)];
    println!(
        "ψ1 of the spun-up jet from {} of {points} points ({:.0} %), noise 0.1 % of std ψ1",
        sensors.len(),
        100.0 * fraction
    );
    println!(
        "{:<52} {:>10} {:>10} {:>9}",
        "interpolator", "ψ1 error", "∇²ψ1 err", "seconds"
    );
    for kind in closed_form.iter().chain(&networks) {
        let clock = Instant::now();
        let fit = interpolate(
            kind,
            model.grid(),
            &sensors,
            std::slice::from_ref(&observed),
            base.seed,
        )?;
        let seconds = clock.elapsed().as_secs_f64();
        let lap = laplacian(&mut grid, &fit[0]);
        println!(
            "{:<52} {:>10.2e} {:>10.2e} {:>9.2}",
            kind.label(),
            relative(&fit[0], &truth),
            relative(&lap, &truth_lap),
            seconds
        );
        spectra.push((kind.label(), radial_spectrum(&mut grid, &fit[0])));
    }
    let mut csv = std::fs::File::create(out.join("interpolation_spectra.csv"))?;
    writeln!(
        csv,
        "K,{}",
        spectra
            .iter()
            .map(|s| s.0.replace(',', ";"))
            .collect::<Vec<_>>()
            .join(",")
    )?;
    for (i, &(k, _)) in spectra[0].1.iter().enumerate() {
        let row: Vec<String> = spectra.iter().map(|s| format!("{:e}", s.1[i].1)).collect();
        writeln!(csv, "{k},{}", row.join(","))?;
    }
    let columns: Vec<(String, Vec<f64>, Vec<f64>)> = spectra
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                s.iter().map(|p| p.0).collect(),
                s.iter().map(|p| p.1).collect(),
            )
        })
        .collect();
    save_figure(
        &out,
        "interpolation_spectra",
        &Lines {
            title: format!(
                "power spectrum of ψ1: truth and interpolations ({:.0} % sensors, 0.1 % noise)",
                100.0 * fraction
            ),
            x_label: "|K|".into(),
            y_label: "power".into(),
            series: columns
                .iter()
                .map(|(n, x, y)| (n.clone(), x.as_slice(), y.as_slice()))
                .collect(),
            log_y: true,
        },
    )?;
    sensor_mask_figure(&out, &model.grid().x(), &model.grid().y(), &sensors)?;
    println!("wrote {}", out.display());

    if !args.iter().any(|a| a == "--table") {
        return Ok(());
    }
    // Part 2: the discovery with each interpolator.
    let with_networks = args.iter().any(|a| a == "--mlp");
    println!("\n| case | sensors | interpolator | pairs | terms | worst error | interpolation s |");
    println!("|---|---|---|---|---|---|---|");
    for name in ["qg-case1001-sparse50", "qg-case1002-sparse50"] {
        for fraction in [1.0, 0.75, 0.5, 0.25] {
            let mut kinds: Vec<InterpolatorKind> = Vec::new();
            if fraction == 1.0 {
                kinds.push(InterpolatorKind::None);
            }
            kinds.extend(closed_form.iter().cloned());
            // The networks train one model per field: case 1001 at 50 % only.
            if with_networks && fraction == 0.5 && name == "qg-case1001-sparse50" {
                kinds.extend(networks.iter().cloned());
            }
            for kind in kinds {
                let mut c = case(name)?;
                c.observations.fraction = fraction;
                if matches!(kind, InterpolatorKind::Mlp(_)) {
                    c.observations.pairs = 1;
                }
                let result = run_qg_with(&mut c, &kind);
                let (terms, worst, seconds) = match result {
                    Ok(d) => {
                        let (exact, worst) = d.outcome().expect("a twin experiment");
                        (
                            if exact { "exact" } else { "differ" }.to_string(),
                            format!("{:.2} %", 100.0 * worst),
                            format!("{:.2}", d.seconds.assimilation),
                        )
                    }
                    Err(e) => ("error".into(), e.to_string(), "-".into()),
                };
                println!(
                    "| {} | {:.0} % | {} | {} | {terms} | {worst} | {seconds} |",
                    name.trim_end_matches("-sparse50"),
                    100.0 * fraction,
                    kind.label(),
                    c.observations.pairs
                );
            }
        }
    }
    Ok(())
}

/// Runs a case with the interpolator given directly (the example's table spans settings the
/// case-file keys also reach: `[interpolation] method, ratio, features, sigma, ...`).
fn run_qg_with(case: &mut Case, kind: &InterpolatorKind) -> medida::Result<Discovery> {
    let i = &mut qg(case).interpolation;
    match kind {
        InterpolatorKind::None => i.method = "none".into(),
        InterpolatorKind::Fourier { ratio, zonal_mean } => {
            i.method = "fourier".into();
            i.ratio = *ratio;
            i.zonal_mean = *zonal_mean;
        }
        InterpolatorKind::Rff {
            features,
            sigma,
            ridge,
        } => {
            i.method = "rff".into();
            i.features = *features;
            i.sigma = *sigma;
            i.ridge = *ridge;
        }
        InterpolatorKind::Mlp(s) => {
            i.method = if s.fourier_features > 0 {
                "mlp-rff".into()
            } else {
                "mlp".into()
            };
            i.features = s.fourier_features;
            i.sigma = s.sigma;
            i.width = s.width;
            i.layers = s.layers;
            i.epochs = s.epochs;
            i.learning_rate = s.learning_rate;
        }
    }
    medida::run(case, &|_| {})
}
