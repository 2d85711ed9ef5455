//! Accumulation of the normal equations (10⁶ × 25 rows, and 10⁷ streamed) and the RVM fit on
//! sufficient statistics.

use criterion::{criterion_group, criterion_main, Criterion};
use medida::regression::normal_equations::NormalEquations;
use medida::regression::rvm::{fit, RvmMethod, RvmSettings};
use ndarray::{Array1, Array2};

fn data(rows: usize, p: usize) -> (Array2<f64>, Array1<f64>) {
    // Deterministic, well-conditioned pseudo-random design.
    let x = Array2::from_shape_fn((rows, p), |(r, j)| {
        (((r * 2654435761 + j * 40503) % 1000) as f64) / 500.0 - 1.0
    });
    let y = Array1::from_shape_fn(rows, |r| {
        2.0 * x[[r, 3]] - 0.5 * x[[r, 7]] + 1e-3 * ((r % 17) as f64 - 8.0)
    });
    (x, y)
}

fn regression(c: &mut Criterion) {
    let names: Vec<String> = (0..25).map(|j| format!("c{j}")).collect();
    let (x, y) = data(1_000_000, 25);
    let mut group = c.benchmark_group("regression");
    group.sample_size(10);
    group.bench_function("accumulate_1e6x25", |b| {
        b.iter(|| {
            let mut ne = NormalEquations::new(names.clone());
            ne.add(x.view(), y.view()).unwrap();
            ne
        })
    });
    // 10⁷ rows streamed as ten samples of 10⁶ (memory stays that of one sample), then the fit.
    group.bench_function("stream_1e7x25_and_fit", |b| {
        b.iter(|| {
            let mut ne = NormalEquations::new(names.clone());
            for _ in 0..10 {
                ne.add(x.view(), y.view()).unwrap();
            }
            fit(&ne, &RvmSettings::default()).unwrap()
        })
    });
    let mut ne = NormalEquations::new(names.clone());
    ne.add(x.view(), y.view()).unwrap();
    for (label, method) in [
        ("fit_reestimate", RvmMethod::Reestimate),
        ("fit_fast", RvmMethod::Fast),
    ] {
        let settings = RvmSettings {
            method,
            ..RvmSettings::default()
        };
        group.bench_function(label, |b| b.iter(|| fit(&ne, &settings).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, regression);
criterion_main!(benches);
