//! One analysis step on an ensemble from a file, for side-by-side checks against other
//! codes (`scripts/compare_enkf.py`): reads the forecast ensemble (state × members) and the
//! observed values (every state entry observed with one variance), analyses it `--repeats`
//! times from the same forecast, writes the analysis ensemble and prints each analysis's
//! time.
//!
//!     cargo run --release --example analysis -- E.npy y.npy OUT.npy \
//!         --variance 0.01 --filter enkf|etkf [--repeats 5] [--seed 1]

use medida::assimilation::{Analysis, Etkf, Observation, StochasticEnkf};
use nalgebra::DMatrix;
use ndarray::{Array1, Array2};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    medida::memory::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let usage = "usage: analysis E.npy y.npy OUT.npy [--variance r] [--filter enkf|etkf] [--repeats k] [--seed s]";
    let (Some(ensemble_path), Some(values_path), Some(out_path)) =
        (args.first(), args.get(1), args.get(2))
    else {
        return Err(usage.into());
    };
    let variance: f64 = value("--variance", "0.01").parse()?;
    let repeats: usize = value("--repeats", "1").parse()?;
    let seed: u64 = value("--seed", "1").parse()?;
    let filter: Box<dyn Analysis> = match value("--filter", "enkf").as_str() {
        "enkf" => Box::new(StochasticEnkf {
            seed,
            ..StochasticEnkf::default()
        }),
        "etkf" => Box::new(Etkf::default()),
        other => return Err(format!("--filter {other}: enkf or etkf").into()),
    };
    let e: Array2<f64> = ndarray_npy::read_npy(ensemble_path)?;
    let y: Array1<f64> = ndarray_npy::read_npy(values_path)?;
    let (n, m) = e.dim();
    let forecast = DMatrix::from_fn(n, m, |i, j| e[[i, j]]);
    let observation = Observation::full(n, variance)?;
    let values = y.to_vec();
    let mut analysis = forecast.clone();
    for _ in 0..repeats.max(1) {
        analysis.copy_from(&forecast);
        let start = Instant::now();
        filter.analyse(&mut analysis, &observation, &values, 1)?;
        println!("analysis_ms={:.4}", start.elapsed().as_secs_f64() * 1e3);
    }
    let out = Array2::from_shape_fn((n, m), |(i, j)| analysis[(i, j)]);
    ndarray_npy::write_npy(out_path, &out)?;
    Ok(())
}
