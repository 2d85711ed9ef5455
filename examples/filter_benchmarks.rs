//! The published ensemble-filter benchmarks, ours next to the published time-mean analysis
//! RMSE: Lorenz-96 (Sakov & Oke 2008) and Kuramoto–Sivashinsky (Bocquet et al. 2019), with
//! the settings of DAPPER's `mods/Lorenz96/sakov2008.py` and `mods/KS/bocquet2019.py`.
//!
//! The rows use DAPPER's settings as its benchmark files give them, random rotations
//! (`rot=True`) included where DAPPER's rows have them. `--seeds` runs every row once per
//! seed (truth, observation noise, initial ensemble and the filters' own draws all from it)
//! and prints the mean and spread of the RMSE, and how many runs diverged (RMSE above twice
//! the published figure). `scripts/compare_dapper.py` runs DAPPER on the same rows.
//!
//!     cargo run --release --example filter_benchmarks            # 20,000 cycles each
//!     cargo run --release --example filter_benchmarks -- --cycles 4000 --seeds 1,2,3,4,5
//!     cargo run --release --example filter_benchmarks -- --rows 2,5 --seeds 1,2,3   # rows 2 and 5

mod common;

use medida::assimilation::{
    run_twin, Analysis, Etkf, Geometry, Letkf, Observation, Rotated, StochasticEnkf, TwinSettings,
};
use medida::solvers::{KsIntervalModel, KsModel, KsParams, Lorenz96, Model};
use std::time::Instant;

struct Row {
    system: &'static str,
    /// The filter for a seed.
    filter: Box<dyn Fn(u64) -> Box<dyn Analysis>>,
    members: usize,
    published: f64,
}

/// `filter` with DAPPER's random rotations after every analysis, drawn from the seed.
fn rotated<A: Analysis + 'static>(filter: A, seed: u64) -> Box<dyn Analysis> {
    Box::new(Rotated {
        inner: filter,
        seed,
    })
}

fn main() -> anyhow::Result<()> {
    medida::memory::retain_freed_memory();
    let arguments = common::arguments();
    let cycles: usize = common::option(&arguments, "--cycles")?.unwrap_or(20_000);
    let burn_in = cycles / 10;
    let seeds: Vec<u64> = list(&arguments, "--seeds")?.unwrap_or(vec![2024]);
    // Rows by their place in the table, from 1 (all by default).
    let chosen: Option<Vec<usize>> = list(&arguments, "--rows")?;

    // Lorenz-96: 40 variables, F = 8, RK4 dt = 0.05 = dt_obs, all observed, R = I.
    let lorenz = Lorenz96::sakov2008();
    let mut lorenz_start = vec![0.0; 40];
    lorenz_start[0] = 1.0;
    spin_up(&lorenz, &mut lorenz_start, 1000)?;
    let lorenz_observation = Observation::full(40, 1.0)?;
    let ring40 = Geometry::Periodic1d { points: 40 };

    // KS: u_t = −u u_x − u_xx − u_xxxx, L = 32π, 128 points, ETDRK4 dt = 0.5, observed every
    // 2 steps, all points, R = I; no dealiasing (as DAPPER).
    let mut params = KsParams::standard(32.0 * std::f64::consts::PI, 128);
    params.dealias = false;
    let ks = KsIntervalModel::new(KsModel::new(params)?, 0.5, 2)?;
    let mut ks_start: Vec<f64> = (1..=128)
        .map(|j| {
            let x = 32.0 * std::f64::consts::PI * j as f64 / 128.0;
            (x / 16.0).cos() * (1.0 + (x / 16.0).sin())
        })
        .collect();
    spin_up(&ks, &mut ks_start, 150)?;
    let ks_observation = Observation::full(128, 1.0)?;
    let ring128 = Geometry::Periodic1d { points: 128 };

    let lorenz_rows = [
        Row {
            system: "Lorenz-96",
            filter: Box::new(|seed| {
                Box::new(StochasticEnkf {
                    inflation: 1.06,
                    seed,
                    ..Default::default()
                })
            }),
            members: 40,
            published: 0.22,
        },
        Row {
            system: "Lorenz-96",
            filter: Box::new(|seed| {
                let etkf = Etkf {
                    inflation: 1.013,
                    ..Default::default()
                };
                rotated(etkf, seed)
            }),
            members: 24,
            published: 0.18,
        },
        Row {
            system: "Lorenz-96",
            filter: Box::new(move |seed| {
                let letkf = Letkf {
                    inflation: 1.04,
                    radius: 4.0,
                    geometry: ring40,
                };
                rotated(letkf, seed)
            }),
            members: 7,
            published: 0.22,
        },
    ];
    let ks_rows = [
        Row {
            system: "KS",
            filter: Box::new(move |seed| {
                let letkf = Letkf {
                    inflation: 1.02,
                    radius: 51.0 / 1.82,
                    geometry: ring128,
                };
                rotated(letkf, seed)
            }),
            members: 16,
            published: 0.11,
        },
        Row {
            system: "KS",
            filter: Box::new(|seed| {
                let etkf = Etkf {
                    inflation: 1.03,
                    ..Default::default()
                };
                rotated(etkf, seed)
            }),
            members: 20,
            published: 0.115,
        },
    ];

    println!("{cycles} assimilation cycles, the first {burn_in} not scored; seeds {seeds:?}\n");
    println!("| system | filter | members | published RMSE | medida RMSE (mean ± std over seeds) | diverged | seconds per run |");
    println!("|---|---|---|---|---|---|---|");
    let wanted = |k: usize| chosen.as_ref().is_none_or(|rows| rows.contains(&k));
    for (k, row) in lorenz_rows.iter().enumerate() {
        if !wanted(k + 1) {
            continue;
        }
        report(
            row,
            &lorenz,
            &lorenz_observation,
            &lorenz_start,
            cycles,
            burn_in,
            &seeds,
        )?;
    }
    for (k, row) in ks_rows.iter().enumerate() {
        if !wanted(lorenz_rows.len() + k + 1) {
            continue;
        }
        report(
            row,
            &ks,
            &ks_observation,
            &ks_start,
            cycles,
            burn_in,
            &seeds,
        )?;
    }
    Ok(())
}

/// A comma-separated list after `name`, if given (an error when empty or not numbers).
fn list<T: std::str::FromStr>(arguments: &[String], name: &str) -> anyhow::Result<Option<Vec<T>>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let Some(i) = arguments.iter().position(|a| a == name) else {
        return Ok(None);
    };
    let values = arguments
        .get(i + 1)
        .map(|s| s.split(',').map(str::parse).collect::<Result<Vec<T>, _>>())
        .transpose()?
        .unwrap_or_default();
    anyhow::ensure!(!values.is_empty(), "{name}: give a comma-separated list");
    Ok(Some(values))
}

fn spin_up<M: Model>(model: &M, state: &mut [f64], time: usize) -> anyhow::Result<()> {
    let mut workspace = model.workspace();
    let intervals = (time as f64 / model.interval()).round() as usize;
    for _ in 0..intervals {
        model.advance(state, &mut workspace)?;
    }
    Ok(())
}

/// Runs a row once per seed and prints its line: mean ± std of the time-mean analysis RMSE
/// over the runs that did not diverge (RMSE within twice the published figure), how many
/// diverged, and the mean seconds per run.
fn report<M: Model>(
    row: &Row,
    model: &M,
    observation: &Observation,
    start: &[f64],
    cycles: usize,
    burn_in: usize,
    seeds: &[u64],
) -> anyhow::Result<()> {
    let mut kept = Vec::new();
    let mut diverged = 0;
    let clock = Instant::now();
    let mut name = String::new();
    for &seed in seeds {
        let settings = TwinSettings {
            members: row.members,
            cycles,
            burn_in,
            initial_spread: 0.001f64.sqrt(),
            seed,
        };
        let filter = (row.filter)(seed);
        name = filter.name();
        match run_twin(model, observation, filter.as_ref(), start, &settings) {
            Ok(result) if result.analysis_rmse <= 2.0 * row.published => {
                kept.push(result.analysis_rmse)
            }
            _ => diverged += 1,
        }
    }
    let n = kept.len() as f64;
    let mean = kept.iter().sum::<f64>() / n.max(1.0);
    let std = (kept.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let rmse = if kept.is_empty() {
        "—".to_string()
    } else {
        format!("{mean:.3} ± {std:.3}")
    };
    println!(
        "| {} | {} | {} | {} | {rmse} | {diverged} of {} | {:.2} |",
        row.system,
        name,
        row.members,
        row.published,
        seeds.len(),
        clock.elapsed().as_secs_f64() / seeds.len() as f64
    );
    Ok(())
}
