//! The two-layer QG solver against independent truth: exact spectral operators, PV inversion,
//! the dealiased Jacobian on band-limited fields, the Phillips baroclinic-instability growth
//! rates, conservation of energy and enstrophy, and bad input.

use medida_solvers::{
    QgModel, QgParams, QgScheme, QgStepper, QgTerm, SolverError, Spectral2d, Stepper,
};
use num_complex::Complex64;
use std::f64::consts::PI;

fn zero(n: usize) -> Vec<Complex64> {
    vec![Complex64::new(0.0, 0.0); n]
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

#[test]
fn spectral_derivatives_are_exact_on_trigonometric_polynomials() {
    let (nx, ny, lx, ly) = (32, 48, 7.0, 11.0);
    let mut grid = Spectral2d::new(nx, ny, lx, ly).unwrap();
    let (x, y) = (grid.x(), grid.y());
    let (a, b) = (2.0 * PI * 3.0 / lx, 2.0 * PI * 5.0 / ly);
    let field: Vec<f64> = y
        .iter()
        .flat_map(|&y| x.iter().map(move |&x| (a * x).sin() * (b * y).cos() + 0.5))
        .collect();
    let dx: Vec<f64> = y
        .iter()
        .flat_map(|&y| x.iter().map(move |&x| a * (a * x).cos() * (b * y).cos()))
        .collect();
    let dy: Vec<f64> = y
        .iter()
        .flat_map(|&y| x.iter().map(move |&x| -b * (a * x).sin() * (b * y).sin()))
        .collect();
    let mut spectrum = zero(grid.modes());
    grid.forward(&field, &mut spectrum);
    let kx = grid.kx();
    for (factor, exact) in [(true, &dx), (false, &dy)] {
        let derived: Vec<Complex64> = spectrum
            .iter()
            .enumerate()
            .map(|(m, s)| {
                s * if factor {
                    grid.dx_factor(m / kx, m % kx)
                } else {
                    grid.dy_factor(m / kx, m % kx)
                }
            })
            .collect();
        let mut out = vec![0.0; grid.points()];
        grid.inverse(&derived, &mut out);
        let error: Vec<f64> = out.iter().zip(exact.iter()).map(|(u, e)| u - e).collect();
        // Round-off of two FFTs of size ≤ 48 on values of size ~ a, b.
        assert!(
            max_abs(&error) < 1e-12 * max_abs(exact),
            "{}",
            max_abs(&error)
        );
    }
    let mut back = vec![0.0; grid.points()];
    grid.inverse(&spectrum, &mut back);
    let error: Vec<f64> = back.iter().zip(&field).map(|(u, e)| u - e).collect();
    assert!(max_abs(&error) < 1e-14);
}

#[test]
fn pv_inversion_round_trips_to_round_off() {
    let mut params = QgParams::inviscid(32, 64, 10.0, 20.0, 1.0, 0.0);
    params.f2 = 2.5; // unequal layers exercise the full 2 × 2 inversion
    let model = QgModel::new(params).unwrap();
    let n = model.modes();
    let kx = model.grid().kx();
    let mut q = zero(2 * n);
    for (m, v) in q.iter_mut().enumerate() {
        let mode = m % n;
        if mode != 0 {
            *v = Complex64::new(((m * 37) % 11) as f64 - 5.0, ((m * 53) % 7) as f64 - 3.0);
        }
        if mode.is_multiple_of(kx) || mode % kx == kx - 1 {
            v.im = 0.0; // keep the DC/Nyquist columns real
        }
    }
    let mut psi = zero(2 * n);
    model.invert(&q, &mut psi);
    let mut back = zero(2 * n);
    model.potential_vorticity(&psi, &mut back);
    let error = q
        .iter()
        .zip(&back)
        .map(|(a, b)| (a - b).norm())
        .fold(0.0f64, f64::max);
    assert!(error < 1e-13 * 6.0, "{error}");
}

#[test]
fn dealiased_jacobian_is_exact_for_band_limited_fields() {
    // ψ1 = sin(a x) cos(b y) + cos(c x) (a single layer in use; F = 0 decouples the layers):
    // q1 = ∇²ψ1, J(ψ1, q1) by hand.
    let (nx, ny, lx, ly) = (32, 32, 2.0 * PI, 2.0 * PI);
    let params = QgParams::inviscid(nx, ny, lx, ly, 0.0, 0.0);
    let mut model = QgModel::new(params).unwrap();
    let (x, y) = (model.grid().x(), model.grid().y());
    let (a, b, c) = (2.0, 3.0, 5.0);
    let mut psi_field = vec![0.0; 2 * nx * ny];
    let mut jacobian = vec![0.0; nx * ny];
    for (j, &y) in y.iter().enumerate() {
        for (i, &x) in x.iter().enumerate() {
            psi_field[j * nx + i] = (a * x).sin() * (b * y).cos() + (c * x).cos();
            let psi_x = a * (a * x).cos() * (b * y).cos() - c * (c * x).sin();
            let psi_y = -b * (a * x).sin() * (b * y).sin();
            // q = −(a² + b²) sin(ax)cos(by) − c² cos(cx)
            let q_x =
                -(a * a + b * b) * a * (a * x).cos() * (b * y).cos() + c * c * c * (c * x).sin();
            let q_y = (a * a + b * b) * b * (a * x).sin() * (b * y).sin();
            jacobian[j * nx + i] = psi_x * q_y - psi_y * q_x;
        }
    }
    let psi = model.to_spectral(&psi_field).unwrap();
    let mut q = zero(psi.len());
    model.potential_vorticity(&psi, &mut q);
    let mut tendency = zero(q.len());
    model.term(QgTerm::Jacobian, &q, &mut tendency);
    let mut physical = vec![0.0; 2 * nx * ny];
    model.to_physical(&tendency, &mut physical);
    let error: Vec<f64> = physical[..nx * ny]
        .iter()
        .zip(&jacobian)
        .map(|(t, j)| t + j)
        .collect();
    assert!(
        max_abs(&error) < 1e-11 * max_abs(&jacobian),
        "{}",
        max_abs(&error)
    );
}

/// Phillips (1954) two-layer problem, equal layers (F1 = F2 = F), uniform shear, zonal wave k:
/// c = U_m − β(K² + F)/(K²(K² + 2F)) ± √(β²F²/(K⁴(K² + 2F)²) − U_s²(2F − K²)/(K² + 2F)),
/// growth rate k·Im c (U_m, U_s: mean and half-difference of U1, U2).
fn phillips_growth_rate(k: f64, f: f64, beta: f64, u1: f64, u2: f64) -> f64 {
    let k2 = k * k;
    let us = 0.5 * (u1 - u2);
    let discriminant = beta * beta * f * f / (k2 * k2 * (k2 + 2.0 * f).powi(2))
        - us * us * (2.0 * f - k2) / (k2 + 2.0 * f);
    if discriminant < 0.0 {
        k * (-discriminant).sqrt()
    } else {
        0.0
    }
}

fn measured_growth_rate(beta: f64) -> (f64, f64) {
    // One unstable zonal wave (k = 2π/Lx) in a linear run (cJ = 0), RK4.
    let (nx, ny, lx, ly) = (16, 16, 4.0 * PI, 4.0 * PI);
    let mut params = QgParams::inviscid(nx, ny, lx, ly, 1.0, beta);
    params.jacobian = 0.0;
    params.shear = (1.0, 0.0);
    let model = QgModel::new(params).unwrap();
    let n = model.modes();
    let mut q = zero(2 * n);
    q[1] = Complex64::new(1e-3, 0.0); // layer 1, mode (l = 0, k = 1)
    let mut stepper = QgStepper::new(model, QgScheme::Rk4, 0.01).unwrap();
    let amplitude = |q: &[Complex64]| (q[1].norm_sqr() + q[n + 1].norm_sqr()).sqrt();
    stepper.advance(&mut q, 3000, 0).unwrap(); // t = 30: the decaying mode is gone
    let first = amplitude(&q);
    stepper.advance(&mut q, 3000, 3000).unwrap();
    let measured = (amplitude(&q) / first).ln() / 30.0;
    let k = 2.0 * PI / lx;
    (measured, phillips_growth_rate(k, 1.0, beta, 1.0, 0.0))
}

#[test]
fn baroclinic_growth_matches_the_phillips_dispersion_relation() {
    for beta in [0.0, 0.1] {
        let (measured, expected) = measured_growth_rate(beta);
        assert!(
            expected > 0.05,
            "the chosen wave must be unstable ({expected})"
        );
        eprintln!("Phillips β = {beta}: measured {measured:.6}, analytic {expected:.6}");
        assert!(
            (measured - expected).abs() < 0.01 * expected,
            "β = {beta}: {measured} vs {expected}"
        );
    }
}

fn conservation_drift(dt: f64, with_topography: bool) -> (f64, f64) {
    let mut params = QgParams::inviscid(32, 32, 8.0 * PI, 8.0 * PI, 1.0, 0.3);
    if with_topography {
        // A smooth seamount in layer 2's PV. With β and topography together the anomaly
        // enstrophy is not an invariant (β ψ_x correlates with h), so β is off here.
        params.beta = 0.0;
        params.topography = (0..32 * 32)
            .map(|n| {
                let (x, y) = ((n % 32) as f64 - 16.0, (n / 32) as f64 - 16.0);
                0.8 * (-(x * x + y * y) / 30.0).exp()
            })
            .collect();
    }
    let mut model = QgModel::new(params).unwrap();
    let (x, y) = (model.grid().x(), model.grid().y());
    let points = x.len() * y.len();
    let mut field = vec![0.0; 2 * points];
    for (j, &y) in y.iter().enumerate() {
        for (i, &x) in x.iter().enumerate() {
            let (s, t) = (x / 4.0, y / 4.0);
            field[j * 32 + i] = (s + 0.3).sin() * (2.0 * t).cos() + 0.5 * (3.0 * s - t).cos();
            field[points + j * 32 + i] =
                0.7 * (2.0 * s).cos() * (t + 1.0).sin() - 0.4 * (s + 2.0 * t).sin();
        }
    }
    let mut q = model.to_spectral(&field).unwrap();
    let (e0, z0) = (model.energy(&q), model.enstrophy(&q));
    let steps = (10.0 / dt).round() as usize;
    let mut stepper = QgStepper::new(model, QgScheme::Rk4, dt).unwrap();
    stepper.advance(&mut q, steps, 0).unwrap();
    let model = stepper.model();
    (
        (model.energy(&q) - e0).abs() / e0,
        (model.enstrophy(&q) - z0).abs() / z0,
    )
}

#[test]
fn energy_and_enstrophy_are_conserved_to_the_time_stepping_error() {
    for with_topography in [false, true] {
        let (e1, z1) = conservation_drift(0.04, with_topography);
        let (e2, z2) = conservation_drift(0.02, with_topography);
        // The dealiased semi-discrete system conserves both exactly; RK4's drift falls ~2⁴–2⁵ per
        // halving of dt (demand 10×) and stays small.
        eprintln!(
            "relative drift over t = 10: energy {e1:.2e} → {e2:.2e}, enstrophy {z1:.2e} → {z2:.2e}"
        );
        assert!(e1 < 1e-5 && z1 < 1e-5, "{e1} {z1}");
        assert!(
            e2 < e1 / 10.0 && z2 < z1 / 10.0,
            "energy {e1} → {e2}, enstrophy {z1} → {z2}"
        );
    }
}

#[test]
fn bad_parameters_are_clear_errors() {
    let mut p = QgParams::medida_jet();
    p.f1 = -1.0;
    assert!(matches!(
        QgModel::new(p),
        Err(SolverError::Parameter { name: "F1", .. })
    ));
    let mut p = QgParams::medida_jet();
    p.nx = 95;
    assert!(matches!(QgModel::new(p), Err(SolverError::Grid(_))));
    let model = QgModel::new(QgParams::medida_jet()).unwrap();
    assert!(QgStepper::new(model.clone(), QgScheme::Leapfrog, 0.0).is_err());
    // A CFL violation blows up; the error names the step.
    let mut stepper = QgStepper::new(model, QgScheme::Leapfrog, 50.0).unwrap();
    let n = stepper.model().modes();
    let mut q = zero(2 * n);
    for (m, v) in q.iter_mut().enumerate().skip(1).take(200) {
        *v = Complex64::new(5.0 * ((m % 7) as f64 - 3.0), 0.0);
    }
    let err = stepper.advance(&mut q, 5000, 0).unwrap_err();
    assert!(matches!(err, SolverError::NonFinite { .. }), "{err}");
    assert!(err.to_string().contains("step"), "{err}");
}

#[test]
fn flow_at_rest_over_topography_is_steady() {
    let mut params = QgParams::inviscid(16, 16, 10.0, 10.0, 1.0, 0.0);
    params.topography = (0..256)
        .map(|n| ((n % 16) as f64 * 0.4).sin() * 0.3)
        .collect();
    let mut model = QgModel::new(params.clone()).unwrap();
    // ψ = 0 everywhere: q1 = 0, q2 = the topography.
    let mut state = vec![0.0; 512];
    state[256..].copy_from_slice(&params.topography);
    let q = model.to_spectral(&state).unwrap();
    let mut psi = zero(q.len());
    model.invert(&q, &mut psi);
    assert!(psi.iter().all(|p| p.norm() < 1e-12));
    let mut tendency = zero(q.len());
    model.tendency(&q, &mut tendency);
    assert!(tendency.iter().all(|t| t.norm() < 1e-12));
}
