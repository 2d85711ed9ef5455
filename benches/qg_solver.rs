//! One step of the two-layer QG model (the authors' physics: dealiased Jacobian, β, relaxation,
//! forcing, sponge, drag, implicit hyperviscosity; leapfrog) at 64², 128², 256² and the
//! authors' 96 × 192 grid.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use medida::solvers::{QgModel, QgParams, QgScheme, QgStepper, Stepper};
use num_complex::Complex64;

fn qg_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("qg_step");
    group.sample_size(20);
    for (nx, ny) in [(64, 64), (128, 128), (256, 256), (96, 192)] {
        let params = QgParams {
            nx,
            ny,
            ..QgParams::medida_jet()
        };
        let model = QgModel::new(params).unwrap();
        let n = model.modes();
        let mut q: Vec<Complex64> = (0..2 * n)
            .map(|m| {
                let mode = m % n;
                if mode == 0 || mode > 200 {
                    Complex64::new(0.0, 0.0)
                } else {
                    Complex64::new(((m * 37) % 11) as f64 - 5.0, 0.0)
                }
            })
            .collect();
        let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, 0.025).unwrap();
        stepper.step(&mut q);
        group.bench_with_input(
            BenchmarkId::new("leapfrog", format!("{nx}x{ny}")),
            &nx,
            |b, _| b.iter(|| stepper.step(&mut q)),
        );
    }
    group.finish();
}

criterion_group!(benches, qg_step);
criterion_main!(benches);
