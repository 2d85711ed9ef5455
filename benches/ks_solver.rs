//! One step of ETDRK4 and CNAB2 at several resolutions, the 8 real FFTs that bound an ETDRK4
//! step from below (with the grid's own transforms and with realfft, the reference
//! floor), and the whole reference truth run (L = 100, N = 1024, dt = 1e-3, 300,000 steps).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use medida::solvers::{
    medida_initial_state, run_with_snapshots, Cnab2, Etdrk4, KsModel, KsParams, RealFft, Stepper,
};
use num_complex::Complex64;

fn state(points: usize) -> (KsModel, Vec<Complex64>) {
    let mut model = KsModel::new(KsParams::standard(100.0, points)).unwrap();
    let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
    let spectrum = model.to_spectral(&u0).unwrap();
    (model, spectrum)
}

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("ks_step");
    for points in [128usize, 1024, 4096, 8192] {
        let (model, spectrum) = state(points);
        let mut etdrk4 = Etdrk4::new(model.clone(), 1e-3).unwrap();
        let mut v = spectrum.clone();
        group.bench_with_input(BenchmarkId::new("etdrk4", points), &points, |b, _| {
            b.iter(|| etdrk4.step(black_box(&mut v)))
        });
        let mut cnab2 = Cnab2::new(model, 1e-3).unwrap();
        let mut v = spectrum.clone();
        group.bench_with_input(BenchmarkId::new("cnab2", points), &points, |b, _| {
            b.iter(|| cnab2.step(black_box(&mut v)))
        });
        // The floor of an ETDRK4 step: 4 inverse + 4 forward raw real FFTs on the transforms'
        // own buffers (no copies, no scaling; values grow by N per round trip, which costs an
        // FFT nothing), with the grid's transforms and with realfft.
        let mut fft = RealFft::new(points).unwrap();
        let mut u = vec![0.0; points];
        let mut s = spectrum.clone();
        group.bench_with_input(
            BenchmarkId::new("eight_real_ffts", points),
            &points,
            |b, _| {
                b.iter(|| {
                    for _ in 0..4 {
                        fft.inverse(black_box(&mut s), &mut u);
                        fft.forward(black_box(&mut u), &mut s);
                    }
                })
            },
        );
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        let (forward, inverse) = (
            planner.plan_fft_forward(points),
            planner.plan_fft_inverse(points),
        );
        let (mut scratch_forward, mut scratch_inverse) =
            (forward.make_scratch_vec(), inverse.make_scratch_vec());
        group.bench_with_input(
            BenchmarkId::new("eight_realfft_ffts", points),
            &points,
            |b, _| {
                b.iter(|| {
                    for _ in 0..4 {
                        // realfft reports (not fixes) non-real DC/Nyquist inputs; they are zeroed.
                        let _ = inverse.process_with_scratch(
                            black_box(&mut s),
                            &mut u,
                            &mut scratch_inverse,
                        );
                        let _ = forward.process_with_scratch(
                            black_box(&mut u),
                            &mut s,
                            &mut scratch_forward,
                        );
                    }
                })
            },
        );
    }
    group.finish();
}

fn truth_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("ks_truth_run");
    group.sample_size(10);
    group.bench_function("reference_300k_steps_N1024", |b| {
        b.iter(|| {
            let model = KsModel::new(KsParams::standard(100.0, 1024)).unwrap();
            let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
            let mut stepper = Etdrk4::new(model, 1e-3).unwrap();
            // Snapshots every 10,000 steps after spin-up, as the reference pipeline keeps.
            let keep: Vec<usize> = (10..=30).map(|i| i * 10_000).collect();
            run_with_snapshots(&mut stepper, &u0, &keep).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, steps, truth_run);
criterion_main!(benches);
