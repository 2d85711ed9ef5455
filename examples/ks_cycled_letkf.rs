//! Does a cycled filter beat projection alone? Case 1 (the model lacks u*u_x), 1 % noise, model
//! step 2e-2: before each sample pair a LETKF cycles over a window of observations with the
//! imperfect model, so the analysis at the pair should sit nearer the truth than the noisy
//! observation; the increments (analysis − forecast)/dt then go through the same library,
//! projection and RVM as projection alone. Both paths see the same truth and noise.
//!
//!     cargo run --release --example ks_cycled_letkf -- [--pairs N] [--window W] [--members M]

mod common;

use medida::assimilation::ensemble::{mean, standard_normals, stream, Purpose};
use medida::assimilation::{forecast, Analysis, Geometry, Letkf, Observation};
use medida::library::rows::{noise_floor_modes, project_sample, propagator};
use medida::library::terms_1d::{Derivatives, TermLibrary};
use medida::regression::normal_equations::NormalEquations;
use medida::regression::rvm::{fit, RvmSettings};
use medida::solvers::{
    medida_initial_state, run_with_snapshots, Etdrk4, KsIntervalModel, KsModel, KsParams, Model,
    Spectral1d,
};
use nalgebra::DMatrix;
use ndarray::Array1;
use std::time::Instant;

fn std_of(u: &[f64]) -> f64 {
    let m = u.iter().sum::<f64>() / u.len() as f64;
    (u.iter().map(|v| (v - m).powi(2)).sum::<f64>() / u.len() as f64).sqrt()
}

fn main() -> anyhow::Result<()> {
    medida::memory::retain_freed_memory();
    let args = common::arguments();
    let (pairs, window, members): (usize, usize, usize) = (
        common::option(&args, "--pairs")?.unwrap_or(20),
        common::option(&args, "--window")?.unwrap_or(10),
        common::option(&args, "--members")?.unwrap_or(40),
    );
    anyhow::ensure!(window >= 2, "--window needs at least 2 cycles");
    let (length, points, dt_truth, dt_model, noise) = (100.0, 1024, 1e-3, 2e-2, 0.01);
    let ratio = (dt_model / dt_truth) as usize;
    let truth_model = KsModel::new(KsParams::standard(length, points))?;
    let imperfect = KsModel::new(KsParams::from_names(
        length,
        points,
        [("u_xx", -1.0), ("u_xxxx", -1.0)],
    )?)?;
    let mut grid = Spectral1d::new(points, length)?;
    let x = grid.coordinates();

    // Truth at every window time of every pair (the pairs 2 time units apart after t = 100).
    let spinup = (100.0 / dt_truth) as usize;
    let spacing = (2.0 / dt_truth) as usize;
    let starts: Vec<usize> = (0..pairs).map(|k| spinup + k * spacing).collect();
    let mut wanted: Vec<usize> = starts
        .iter()
        .flat_map(|&s| (0..=window + 1).map(move |w| s + ratio - (window + 1 - w) * ratio))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let clock = Instant::now();
    let mut stepper = Etdrk4::new(truth_model, dt_truth)?;
    let truth = run_with_snapshots(&mut stepper, &medida_initial_state(&x, length), &wanted)?;
    let state_at = |step: usize| {
        let row = truth.steps.binary_search(&step).expect("kept");
        truth.states.row(row).to_vec()
    };
    println!("truth run: {:.1} s", clock.elapsed().as_secs_f64());
    let observe = |u: &[f64], key: u64| -> Vec<f64> {
        let sigma = noise * std_of(u);
        let mut rng = stream(7, key, 0, Purpose::ObservationNoise);
        u.iter()
            .zip(standard_normals(&mut rng, u.len()))
            .map(|(v, z)| v + sigma * z)
            .collect()
    };

    let model = KsIntervalModel::new(imperfect.clone(), dt_model, 1)?;
    let phi = propagator(imperfect.linear_operator(), dt_model);
    let library = TermLibrary::polynomial(4, 4, false, Derivatives::Spectral)?;
    let middle: Vec<Vec<f64>> = starts
        .iter()
        .map(|&s| observe(&state_at(s), s as u64))
        .collect();
    let modes = noise_floor_modes(&mut grid, &middle, noise, None);
    let letkf = Letkf {
        inflation: 1.05,
        radius: 5.0 / (length / points as f64) / 1.82,
        geometry: Geometry::Periodic1d { points },
    };
    let mut cycled = NormalEquations::new(library.names());
    let mut plain = NormalEquations::new(library.names());
    let mut workspace = model.workspace();
    let clock = Instant::now();
    for (k, &s) in starts.iter().enumerate() {
        // Observations at the window times t_k − (W−1)dt … t_k, t_k + dt; all noisy.
        let times: Vec<usize> = (0..=window)
            .map(|w| s + ratio - (window - w) * ratio - ratio)
            .collect();
        let first = observe(&state_at(times[0]), times[0] as u64);
        let sigma = noise * std_of(&state_at(times[0]));
        let mut ensemble = DMatrix::zeros(points, members);
        for (j, mut column) in ensemble.column_iter_mut().enumerate() {
            let mut rng = stream(7, k as u64, j as u64, Purpose::InitialSpread);
            for (c, (o, z)) in column
                .iter_mut()
                .zip(first.iter().zip(standard_normals(&mut rng, points)))
            {
                *c = o + sigma * z;
            }
        }
        let mut analyses = Vec::new();
        for (cycle, &t) in times
            .iter()
            .enumerate()
            .skip(1)
            .chain(std::iter::once((window + 1, &(s + ratio))))
        {
            forecast(&model, &mut ensemble)?;
            let y = observe(&state_at(t), t as u64);
            let variance = (noise * std_of(&state_at(t))).powi(2);
            let observation = Observation::full(points, variance)?;
            letkf.analyse(&mut ensemble, &observation, &y, (k * 1000 + cycle) as u64)?;
            analyses.push(mean(&ensemble).as_slice().to_vec());
        }
        // analyses[window−1] is at t_k, the last at t_k + dt.
        let (at_t, at_next) = (&analyses[window - 1], &analyses[window]);
        let previous = &analyses[window - 2];
        let mut forecast_state = at_t.clone();
        model.advance(&mut forecast_state, &mut workspace)?;
        let increment: Vec<f64> = at_next
            .iter()
            .zip(&forecast_state)
            .map(|(a, f)| (a - f) / dt_model)
            .collect();
        let columns = library.evaluate(&mut grid, previous)?;
        let (rows, target) = project_sample(&mut grid, &columns, &increment, modes, Some(&phi))?;
        cycled.add(rows.view(), Array1::from(target).view())?;

        // Projection alone: the raw observations at t − dt, t, t + dt.
        let raw: Vec<Vec<f64>> = [s - ratio, s, s + ratio]
            .iter()
            .map(|&t| observe(&state_at(t), t as u64))
            .collect();
        let mut forecast_state = raw[1].clone();
        model.advance(&mut forecast_state, &mut workspace)?;
        let increment: Vec<f64> = raw[2]
            .iter()
            .zip(&forecast_state)
            .map(|(a, f)| (a - f) / dt_model)
            .collect();
        let columns = library.evaluate(&mut grid, &raw[0])?;
        let (rows, target) = project_sample(&mut grid, &columns, &increment, modes, Some(&phi))?;
        plain.add(rows.view(), Array1::from(target).view())?;
    }
    println!(
        "{pairs} pairs, window {window} cycles, {members} members: {:.1} s\n",
        clock.elapsed().as_secs_f64()
    );
    for (name, stats) in [
        ("projection alone", &plain),
        ("cycled LETKF + projection", &cycled),
    ] {
        let result = fit(stats, &RvmSettings::default())?;
        let i = result
            .names
            .iter()
            .position(|n| n == "u*u_x")
            .expect("u*u_x");
        let found = result.retained.contains(&i);
        println!(
            "{name:<28} u*u_x error {:>6.2} %, {} other terms: {}",
            if found {
                100.0 * (result.coefficients[i] + 1.0).abs()
            } else {
                100.0
            },
            result.retained.len() - usize::from(found),
            medida::regression::equation::Equation::from_fit("u_t error", &result)
        );
    }
    Ok(())
}
