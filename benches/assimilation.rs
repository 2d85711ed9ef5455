//! The analysis step at N = 1024 with every point observed (stochastic EnKF, the paper's
//! filter, and the ETKF) for 100, 1,000 and 10,240 members, next to one dense product of the
//! 1,000-member analysis's size (its floor), and a 1,000-member one-step ensemble forecast of
//! the reference KS model (L = 100, N = 1024, dt = 1e-3).

use criterion::{criterion_group, BenchmarkId, Criterion};
use medida::assimilation::{
    forecast, initial_ensemble, Analysis, Etkf, Observation, StochasticEnkf,
};
use medida::solvers::{medida_initial_state, KsIntervalModel, KsModel, KsParams, Spectral1d};

const POINTS: usize = 1024;

fn start() -> Vec<f64> {
    let grid = Spectral1d::new(POINTS, 100.0).unwrap();
    medida_initial_state(&grid.coordinates(), 100.0)
}

fn analysis(c: &mut Criterion) {
    let center = start();
    let observation = Observation::full(POINTS, 0.01).unwrap();
    let values: Vec<f64> = center.iter().map(|u| u + 0.05).collect();
    let mut group = c.benchmark_group("analysis_n1024_full");
    group.sample_size(10);
    for members in [100, 1000, 10240] {
        let ensemble = initial_ensemble(&center, 0.1, members, 1);
        group.bench_with_input(BenchmarkId::new("enkf", members), &members, |b, _| {
            b.iter_batched(
                || ensemble.clone(),
                |mut e| {
                    StochasticEnkf::default()
                        .analyse(&mut e, &observation, &values, 1)
                        .unwrap()
                },
                criterion::BatchSize::LargeInput,
            )
        });
        if members <= 1000 {
            group.bench_with_input(BenchmarkId::new("etkf", members), &members, |b, _| {
                b.iter_batched(
                    || ensemble.clone(),
                    |mut e| {
                        Etkf::default()
                            .analyse(&mut e, &observation, &values, 1)
                            .unwrap()
                    },
                    criterion::BatchSize::LargeInput,
                )
            });
        }
    }
    // The anchor: one product of the 1,000-member analysis's size, 1,024 × 1,000 times
    // 1,000 × 1,000 (≈ 1.0e9 multiply-adds) on faer with the pool's threads, as the analysis
    // runs its products. The observation-space EnKF at 1,000 members needs ≈ 1.9e9 (SSᵀ
    // 0.52e9, its factor 0.36e9, the solve with every member's innovation 1.05e9): no
    // arrangement of it is faster than ≈ 1.9 of these.
    let left = faer::Mat::<f64>::from_fn(POINTS, 1000, ensemble_entry);
    let right = faer::Mat::<f64>::from_fn(1000, 1000, |i, j| ensemble_entry(j, i));
    let mut out = faer::Mat::<f64>::zeros(POINTS, 1000);
    group.bench_function("product_1024x1000x1000", |b| {
        b.iter(|| {
            faer::linalg::matmul::matmul(
                out.as_mut(),
                faer::Accum::Replace,
                left.as_ref(),
                right.as_ref(),
                1.0,
                faer::Par::rayon(0),
            )
        })
    });
    group.finish();
}

/// Deterministic entries of order one for the product anchor.
fn ensemble_entry(i: usize, j: usize) -> f64 {
    ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5
}

fn ensemble_forecast(c: &mut Criterion) {
    let model = KsIntervalModel::new(
        KsModel::new(KsParams::standard(100.0, POINTS)).unwrap(),
        1e-3,
        1,
    )
    .unwrap();
    let mut ensemble = initial_ensemble(&start(), 0.01, 1000, 2);
    let mut group = c.benchmark_group("ensemble_forecast");
    group.sample_size(10);
    group.bench_function("ks_n1024_1000_members_one_step", |b| {
        b.iter(|| forecast(&model, &mut ensemble).unwrap())
    });
    group.finish();
}

criterion_group!(benches, analysis, ensemble_forecast);

/// criterion_main!, with the allocator setting the medida CLI uses (see `medida::memory`).
fn main() {
    medida::memory::retain_freed_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
