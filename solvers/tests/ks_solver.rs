//! The KS solver against independent truth: exact linear propagation, convergence orders,
//! conservation of the mean, long-time boundedness, and clear errors for bad input.

use medida_solvers::{
    medida_initial_state, resume_with_snapshots, run_with_snapshots, Checkpoint, Cnab2, Etdrk4,
    KsForecaster, KsModel, KsParams, Rk4, Scheme, SolverError, Stepper,
};
use num_complex::Complex64;
use std::f64::consts::PI;

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

/// Small KS problem (Kassam & Trefethen's domain 32π) from the spec's initial state.
fn nonlinear_problem(points: usize) -> (KsModel, Vec<f64>) {
    let length = 32.0 * PI;
    let model = KsModel::new(KsParams::standard(length, points)).unwrap();
    let u0 = medida_initial_state(&model.grid().coordinates(), length);
    (model, u0)
}

/// The nonlinear problem on `points` points at `time`, advanced with the stepper `make` builds.
fn solve<S: Stepper>(
    points: usize,
    dt: f64,
    time: f64,
    make: impl Fn(KsModel, f64) -> S,
) -> Vec<f64> {
    let (mut model, u0) = nonlinear_problem(points);
    let mut spectrum = model.to_spectral(&u0).unwrap();
    let mut stepper = make(model.clone(), dt);
    stepper
        .advance(&mut spectrum, (time / dt).round() as usize, 0)
        .unwrap();
    let mut u = vec![0.0; points];
    model.to_physical(&spectrum, &mut u);
    u
}

/// Errors at dt and dt/2 against `reference`, and the observed order log2(e1/e2).
fn observed_order(
    solution: impl Fn(f64) -> Vec<f64>,
    reference: &[f64],
    dt: f64,
) -> (f64, f64, f64) {
    let e1 = max_abs_diff(&solution(dt), reference);
    let e2 = max_abs_diff(&solution(dt / 2.0), reference);
    ((e1 / e2).log2(), e1, e2)
}

fn etdrk4(model: KsModel, dt: f64) -> Etdrk4 {
    Etdrk4::new(model, dt).unwrap()
}

#[test]
fn linear_rhs_is_propagated_exactly_by_etdrk4() {
    // u_t = -u_xx - u_xxxx + 0.3 u_x + 0.05 u: each Fourier mode evolves as exp(L(k) t).
    let length = 2.0 * PI * 4.0;
    let params = KsParams::from_names(
        length,
        64,
        [("u_xx", -1.0), ("u_xxxx", -1.0), ("u_x", 0.3), ("u", 0.05)],
    )
    .unwrap();
    let model = KsModel::new(params).unwrap();
    assert!(model.is_linear());
    let x = model.grid().coordinates();
    let modes = [1usize, 3, 4, 7];
    let u0: Vec<f64> = x
        .iter()
        .map(|&x| {
            modes
                .iter()
                .map(|&m| (2.0 * PI * m as f64 * x / length).cos())
                .sum()
        })
        .collect();
    let (dt, steps) = (0.05, 200);
    let mut stepper = Etdrk4::new(model, dt).unwrap();
    let u = run_with_snapshots(&mut stepper, &u0, &[steps])
        .unwrap()
        .states
        .row(0)
        .to_vec();
    let t = dt * steps as f64;
    let exact: Vec<f64> = x
        .iter()
        .map(|&x| {
            modes
                .iter()
                .map(|&m| {
                    let k = 2.0 * PI * m as f64 / length;
                    let l = Complex64::new(k * k - k.powi(4) + 0.05, 0.3 * k);
                    let phase = Complex64::new(0.0, k * x);
                    ((l * t).exp() * phase.exp()).re
                })
                .sum()
        })
        .collect();
    // Round-off only: the scheme is exact for a linear rhs.
    assert!(
        max_abs_diff(&u, &exact) < 1e-12 * max_abs(&exact).max(1.0),
        "{}",
        max_abs_diff(&u, &exact)
    );
}

#[test]
fn etdrk4_is_fourth_order() {
    let time = 4.0;
    let reference = solve(64, 1.0 / 512.0, time, etdrk4);
    let (order, e1, e2) = observed_order(|dt| solve(64, dt, time, etdrk4), &reference, 0.1);
    // Asymptotic order 4; allow the pre-asymptotic wobble of a chaotic run.
    assert!(
        (order - 4.0).abs() < 0.3,
        "errors {e1:e} {e2:e}, order {order}"
    );
}

#[test]
fn cnab2_is_second_order() {
    let time = 4.0;
    let reference = solve(64, 1.0 / 512.0, time, etdrk4);
    let cnab2 = |model, dt| Cnab2::new(model, dt).unwrap();
    let (order, e1, e2) = observed_order(|dt| solve(64, dt, time, cnab2), &reference, 0.01);
    assert!(
        (order - 2.0).abs() < 0.2,
        "errors {e1:e} {e2:e}, order {order}"
    );
}

#[test]
fn rk4_is_fourth_order_where_stable() {
    // Explicit RK4 needs dt |L_max| inside its stability region: a coarse grid.
    let rk4 = |model, dt| Rk4::new(model, dt).unwrap();
    let reference = solve(32, 1.0 / 1024.0, 2.0, rk4);
    let (order, e1, e2) = observed_order(|dt| solve(32, dt, 2.0, rk4), &reference, 0.02);
    assert!(
        (order - 4.0).abs() < 0.3,
        "errors {e1:e} {e2:e}, order {order}"
    );
}

#[test]
fn standard_ks_conserves_the_mean_to_round_off() {
    let length = 100.0;
    let model = KsModel::new(KsParams::standard(length, 1024)).unwrap();
    let u0: Vec<f64> = medida_initial_state(&model.grid().coordinates(), length)
        .iter()
        .map(|u| u + 0.1)
        .collect();
    let mean0 = u0.iter().sum::<f64>() / 1024.0;
    let mut stepper = Etdrk4::new(model, 1e-3).unwrap();
    let snaps = run_with_snapshots(&mut stepper, &u0, &[10_000, 20_000]).unwrap();
    for row in snaps.states.rows() {
        let mean = row.sum() / 1024.0;
        assert!(
            (mean - mean0).abs() < 1e-13,
            "mean drifted from {mean0} to {mean}"
        );
    }
}

#[test]
fn reference_truth_run_stays_bounded_to_t_1000() {
    let length = 100.0;
    let model = KsModel::new(KsParams::standard(length, 1024)).unwrap();
    let u0 = medida_initial_state(&model.grid().coordinates(), length);
    let mut stepper = Etdrk4::new(model, 1e-3).unwrap();
    let steps: Vec<usize> = (1..=10).map(|i| i * 100_000).collect();
    let snaps = run_with_snapshots(&mut stepper, &u0, &steps).unwrap();
    for (t, row) in snaps.times.iter().zip(snaps.states.rows()) {
        let amplitude = row.iter().map(|x| x.abs()).fold(0.0, f64::max);
        // KS on L = 100 saturates at |u| ~ 3; anything far above is a blow-up.
        assert!(amplitude < 10.0, "|u| = {amplitude} at t = {t}");
        assert!(amplitude > 0.5, "solution decayed at t = {t}");
    }
}

#[test]
fn explicit_rk4_blow_up_is_an_error_naming_the_step() {
    // dt |L_max| = 0.5 * 256 is far outside RK4's stability region: growth ~1e7 per step.
    let (mut model, u0) = nonlinear_problem(128);
    let mut spectrum = model.to_spectral(&u0).unwrap();
    let mut stepper = Rk4::new(model, 0.5).unwrap();
    let err = stepper.advance(&mut spectrum, 10_000, 0).unwrap_err();
    match &err {
        SolverError::NonFinite { step, time } => {
            assert!(*step > 1 && *step < 10_000 && (time - 0.5 * *step as f64).abs() < 1e-9);
            assert!(err.to_string().contains(&format!("step {step}")), "{err}");
        }
        other => panic!("expected a blow-up error, got {other}"),
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    assert!(KsModel::new(KsParams::standard(100.0, 4)).is_err());
    assert!(KsModel::new(KsParams::standard(100.0, 1023)).is_err());
    let model = KsModel::new(KsParams::standard(100.0, 64)).unwrap();
    for dt in [0.0, -1e-3, f64::NAN] {
        let err = Etdrk4::new(model.clone(), dt).err().unwrap();
        assert!(err.to_string().contains("dt"), "{err}");
    }
    assert!(KsParams::from_names(100.0, 64, [("u_y", 1.0)]).is_err());
    let mut forecaster = KsForecaster::new(model, Scheme::Cnab2, 1e-3).unwrap();
    let mut next = vec![0.0; 64];
    let mut u = vec![0.0; 64];
    assert!(
        forecaster.forecast(None, &u, &mut next).is_err(),
        "cnab2 without previous"
    );
    u[3] = f64::NAN;
    assert!(
        forecaster.forecast(Some(&u), &u, &mut next).is_err(),
        "NaN input"
    );
}

#[test]
fn a_truth_run_resumed_from_checkpoints_is_the_uninterrupted_run_to_the_bit() {
    let length = 22.0;
    let model = KsModel::new(KsParams::standard(length, 64)).unwrap();
    let u0 = medida_initial_state(&model.grid().coordinates(), length);
    let mut stepper = Etdrk4::new(model, 1e-2).unwrap();
    let steps = [150, 400, 401, 1_000, 1_500, 2_300];
    let whole = run_with_snapshots(&mut stepper, &u0, &steps).unwrap();
    // The same run in three pieces, each resumed from the checkpoint the previous left.
    let mut from = Checkpoint::initial(&mut stepper, &u0).unwrap();
    let mut rows = Vec::new();
    for (piece, then) in [
        (&steps[..2], 401),
        (&steps[2..4], 1_200),
        (&steps[4..], 2_300),
    ] {
        let (snaps, next) = resume_with_snapshots(&mut stepper, &from, piece, &[then]).unwrap();
        rows.extend(snaps.states.rows().into_iter().map(|r| r.to_vec()));
        from = next.into_iter().next().unwrap();
        assert_eq!(from.step, then);
    }
    for (a, b) in whole.states.rows().into_iter().zip(&rows) {
        assert_eq!(a.to_vec(), *b);
    }
    // The run moved: the pieces are not all the same state.
    assert_ne!(rows[0], rows[5]);
}
