//! The published ensemble-filter benchmarks, ours next to the published time-mean analysis
//! RMSE: Lorenz-96 (Sakov & Oke 2008) and Kuramoto–Sivashinsky (Bocquet et al. 2019), with
//! the settings of DAPPER's `mods/Lorenz96/sakov2008.py` and `mods/KS/bocquet2019.py`.
//!
//!     cargo run --release --example filter_benchmarks            # 20,000 cycles each
//!     cargo run --release --example filter_benchmarks -- --cycles 4000

mod common;

use medida::assimilation::{
    run_twin, Analysis, Etkf, Geometry, Letkf, Observation, StochasticEnkf, TwinSettings,
};
use medida::solvers::{KsIntervalModel, KsModel, KsParams, Lorenz96, Model};
use std::time::Instant;

struct Row {
    system: &'static str,
    filter: Box<dyn Analysis>,
    members: usize,
    published: f64,
}

fn main() -> anyhow::Result<()> {
    medida::memory::retain_freed_memory();
    let cycles: usize = common::option(&common::arguments(), "--cycles")?.unwrap_or(20_000);
    let burn_in = cycles / 10;

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

    let lorenz_rows = vec![
        Row {
            system: "Lorenz-96",
            filter: Box::new(StochasticEnkf {
                inflation: 1.06,
                seed: 1,
                ..Default::default()
            }),
            members: 40,
            published: 0.22,
        },
        Row {
            system: "Lorenz-96",
            filter: Box::new(Etkf {
                inflation: 1.013,
                ..Default::default()
            }),
            members: 24,
            published: 0.18,
        },
        Row {
            system: "Lorenz-96",
            filter: Box::new(Letkf {
                inflation: 1.04,
                radius: 4.0,
                geometry: ring40,
            }),
            members: 7,
            published: 0.22,
        },
    ];
    let ks_rows = vec![
        Row {
            system: "KS",
            filter: Box::new(Letkf {
                inflation: 1.02,
                radius: 51.0 / 1.82,
                geometry: ring128,
            }),
            members: 16,
            published: 0.11,
        },
        Row {
            system: "KS",
            filter: Box::new(Etkf {
                inflation: 1.03,
                ..Default::default()
            }),
            members: 20,
            published: 0.115,
        },
    ];

    println!("{cycles} assimilation cycles, the first {burn_in} not scored\n");
    println!(
        "{:<10} {:<38} {:>7} {:>10} {:>10} {:>9} {:>8}",
        "system", "filter", "members", "published", "ours", "spread", "seconds"
    );
    for row in &lorenz_rows {
        report(
            row,
            &lorenz,
            &lorenz_observation,
            &lorenz_start,
            cycles,
            burn_in,
        )?;
    }
    for row in &ks_rows {
        report(row, &ks, &ks_observation, &ks_start, cycles, burn_in)?;
    }
    Ok(())
}

fn spin_up<M: Model>(model: &M, state: &mut [f64], time: usize) -> anyhow::Result<()> {
    let mut workspace = model.workspace();
    let intervals = (time as f64 / model.interval()).round() as usize;
    for _ in 0..intervals {
        model.advance(state, &mut workspace)?;
    }
    Ok(())
}

fn report<M: Model>(
    row: &Row,
    model: &M,
    observation: &Observation,
    start: &[f64],
    cycles: usize,
    burn_in: usize,
) -> anyhow::Result<()> {
    let settings = TwinSettings {
        members: row.members,
        cycles,
        burn_in,
        initial_spread: 0.001f64.sqrt(),
        seed: 2024,
    };
    let clock = Instant::now();
    let result = run_twin(model, observation, row.filter.as_ref(), start, &settings)?;
    println!(
        "{:<10} {:<38} {:>7} {:>10.3} {:>10.3} {:>9.3} {:>8.1}",
        row.system,
        row.filter.name(),
        row.members,
        row.published,
        result.analysis_rmse,
        result.analysis_spread,
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}
