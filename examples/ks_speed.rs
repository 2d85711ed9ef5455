//! Timings for the side-by-side comparison of `scripts/compare_ks_speed.py` (which runs this
//! and the numpy/pyfftw versions of the same schemes): ETDRK4 steps of the standard KS
//! (L = 100, dealiased) at N = 128, 1024, 4096 with their 8-real-FFT floor (the grid's own
//! transforms, and realfft's: the reference floor), and J. F. Gibson's
//! KS-CNAB2 benchmark (Lx = N·π/16, dt = 1/16, T = 200, u0 = cos x + 0.1 sin(x/8) +
//! 0.01 cos(2πx/Lx), no dealiasing) at N = 1024 and 8192. Final-state norms are printed so the
//! script can check that both sides computed the same thing.
//!
//!     cargo run --release --example ks_speed

use medida::solvers::{medida_initial_state, Cnab2, Etdrk4, KsModel, KsParams, RealFft, Stepper};
use num_complex::Complex64;
use std::time::Instant;

fn norm(u: &[f64]) -> f64 {
    (u.iter().map(|v| v * v).sum::<f64>() / u.len() as f64).sqrt()
}

/// Best of `repeats` timings of `f`, in seconds.
fn best_of(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> anyhow::Result<()> {
    // `--states DIR`: the final states too, for the comparison script's agreement check.
    let args: Vec<String> = std::env::args().collect();
    let states = args
        .iter()
        .position(|a| a == "--states")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let save = |name: String, state: &[f64]| -> anyhow::Result<()> {
        if let Some(dir) = &states {
            ndarray_npy::write_npy(dir.join(name), &ndarray::Array1::from(state.to_vec()))?;
        }
        Ok(())
    };
    for points in [128usize, 1024, 4096] {
        let steps = 2_000_000 / points;
        let model = KsModel::new(KsParams::standard(100.0, points))?;
        let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
        let mut stepper = Etdrk4::new(model, 0.01)?;
        let mut final_state = vec![0.0; points];
        let seconds = best_of(5, || {
            let mut v = stepper.model_mut().to_spectral(&u0).expect("finite");
            for _ in 0..steps {
                stepper.step(&mut v);
            }
            stepper.model_mut().to_physical(&v, &mut final_state);
        });
        // The floors: 4 inverse + 4 forward raw transforms on the transforms' own buffers (no
        // copies, no scaling; the values grow by N per round trip, which costs an FFT nothing).
        let mut fft = RealFft::new(points)?;
        let mut u = u0.clone();
        let mut s = vec![Complex64::new(0.0, 0.0); points / 2 + 1];
        let floor = best_of(5, || {
            for _ in 0..steps {
                for _ in 0..4 {
                    fft.inverse(&mut s, &mut u);
                    fft.forward(&mut u, &mut s);
                }
            }
        });
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        let (forward, inverse) = (
            planner.plan_fft_forward(points),
            planner.plan_fft_inverse(points),
        );
        let (mut scratch_forward, mut scratch_inverse) =
            (forward.make_scratch_vec(), inverse.make_scratch_vec());
        let realfft_floor = best_of(5, || {
            for _ in 0..steps {
                for _ in 0..4 {
                    // realfft reports (not fixes) non-real DC/Nyquist inputs; they are zeroed.
                    let _ = inverse.process_with_scratch(&mut s, &mut u, &mut scratch_inverse);
                    let _ = forward.process_with_scratch(&mut u, &mut s, &mut scratch_forward);
                }
            }
        });
        println!(
            "etdrk4 N={points} steps={steps} dt=0.01 us_per_step={:.3} fft_floor_us={:.3} \
             realfft_floor_us={:.3} norm={:.12}",
            1e6 * seconds / steps as f64,
            1e6 * floor / steps as f64,
            1e6 * realfft_floor / steps as f64,
            norm(&final_state)
        );
        save(format!("etdrk4_{points}.npy"), &final_state)?;
    }
    for points in [1024usize, 8192] {
        let length = points as f64 / 16.0 * std::f64::consts::PI;
        let mut params = KsParams::standard(length, points);
        params.dealias = false;
        let x: Vec<f64> = (0..points)
            .map(|j| length * j as f64 / points as f64)
            .collect();
        let u0: Vec<f64> = x
            .iter()
            .map(|&x| {
                x.cos()
                    + 0.1 * (x / 8.0).sin()
                    + 0.01 * (2.0 * std::f64::consts::PI / length * x).cos()
            })
            .collect();
        let mut stepper = Cnab2::new(KsModel::new(params)?, 1.0 / 16.0)?;
        let mut final_state = vec![0.0; points];
        let seconds = best_of(5, || {
            stepper.reset();
            let mut v = stepper.model().clone().to_spectral(&u0).expect("finite");
            for _ in 0..3200 {
                stepper.step(&mut v);
            }
            stepper.model().clone().to_physical(&v, &mut final_state);
        });
        println!(
            "gibson N={points} steps=3200 seconds={seconds:.5} norm={:.12}",
            norm(&final_state)
        );
        save(format!("gibson_{points}.npy"), &final_state)?;
    }
    Ok(())
}
