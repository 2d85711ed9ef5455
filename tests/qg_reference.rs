//! The QG solver term by term against the authors' own model at one of their spun-up states
//! (`data/reference-qg/qg-truth-rhs-terms.npz`, from ../shared/data/reference-qg; README there).

use medida::npz::{read_matrix, read_vector};
use medida::solvers::{QgModel, QgParams, QgTerm};
use num_complex::Complex64;
use std::path::PathBuf;

fn reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference-qg/qg-truth-rhs-terms.npz")
}

fn flat(name: &str) -> Vec<f64> {
    read_matrix(&reference(), name)
        .unwrap()
        .iter()
        .copied()
        .collect()
}

fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Our model at the authors' state: ψ from their file, q anomalies from our inversion.
fn model_and_state() -> (QgModel, Vec<Complex64>) {
    let mut model = QgModel::new(QgParams::medida_jet()).unwrap();
    let mut psi_field = flat("psi1");
    psi_field.extend(flat("psi2"));
    let psi = model.to_spectral(&psi_field).unwrap();
    let mut q = vec![Complex64::new(0.0, 0.0); psi.len()];
    model.potential_vorticity(&psi, &mut q);
    (model, q)
}

fn term(model: &mut QgModel, q: &[Complex64], which: QgTerm) -> Vec<f64> {
    let mut out = vec![Complex64::new(0.0, 0.0); q.len()];
    model.term(which, q, &mut out);
    let mut physical = vec![0.0; 2 * model.grid().points()];
    model.to_physical(&out, &mut physical);
    physical
}

#[test]
fn jet_and_sponge_profiles_are_the_authors() {
    let model = QgModel::new(QgParams::medida_jet()).unwrap();
    let psi_r = read_vector(&reference(), "psi_R").unwrap().to_vec();
    let sponge = read_vector(&reference(), "sponge").unwrap().to_vec();
    assert!(relative_difference(model.psi_r(), &psi_r) < 1e-10);
    assert!(relative_difference(model.sponge_profile(), &sponge) < 1e-12);
}

#[test]
fn pv_of_the_authors_state_is_their_pv_minus_beta_y() {
    let (mut model, q) = model_and_state();
    let mut ours = vec![0.0; 2 * model.grid().points()];
    model.to_physical(&q, &mut ours);
    let y = model.grid().y();
    let nx = model.grid().nx();
    let mut theirs = flat("q1");
    theirs.extend(flat("q2"));
    // They prognose the full PV, anomaly + β·y; we the anomaly.
    for (n, value) in theirs.iter_mut().enumerate() {
        *value -= 0.196 * y[(n / nx) % y.len()];
    }
    assert!(relative_difference(&ours, &theirs) < 1e-12);
}

#[test]
fn relaxation_forcing_sponge_and_drag_match_the_authors_terms_to_round_off() {
    let (mut model, q) = model_and_state();
    let points = model.grid().points();
    for (which, name) in [
        (QgTerm::Relaxation, "relaxation"),
        (QgTerm::Forcing, "forcing"),
        (QgTerm::Sponge, "sponge"),
        (QgTerm::Drag, "drag"),
    ] {
        let ours = term(&mut model, &q, which);
        for layer in 0..2 {
            let theirs = flat(&format!("{name}_{}", layer + 1));
            if theirs.iter().all(|v| *v == 0.0) {
                assert!(ours[layer * points..(layer + 1) * points]
                    .iter()
                    .all(|v| v.abs() < 1e-14));
                continue;
            }
            let difference =
                relative_difference(&ours[layer * points..(layer + 1) * points], &theirs);
            assert!(
                difference < 1e-12,
                "{name}, layer {}: {difference:e}",
                layer + 1
            );
        }
    }
}

#[test]
fn beta_term_differs_from_the_authors_only_in_the_nyquist_column() {
    // Ours sets odd derivatives to zero on the Nyquist column (a real field's derivative must
    // be real there); theirs multiplies it by i·k_N. That column carries ~1e-6 of the signal.
    let (mut model, q) = model_and_state();
    let points = model.grid().points();
    let ours = term(&mut model, &q, QgTerm::Beta);
    for layer in 0..2 {
        let theirs = flat(&format!("beta_{}", layer + 1));
        let difference = relative_difference(&ours[layer * points..(layer + 1) * points], &theirs);
        assert!(difference < 1e-5, "layer {}: {difference:e}", layer + 1);
    }
}

// The RVM on the authors' QG regression matrices with defaults: tests/regression.rs
// (`authors_qg_pairs_give_exactly_their_terms_with_defaults_on_every_layer`).

/// From the authors' snapshot, our forward-Euler pairs of truth and imperfect model (the case
/// files' parameters) give their targets h1, h2 to round-off for the cases whose error leaves
/// the Jacobian alone (1001, 1002, 1007: the Jacobian, β, sponge and hyperviscosity cancel in
/// truth − model), and our library at their model's one-step state gives their columns: ψ, ψR,
/// y and the Laplacians to round-off, ∂x + ∂y to 1e-3 (measured 1.4e-4: their first
/// derivatives keep the Nyquist row and column, ours set them to zero, as for β above). Their J1, J2 columns are the one thing not
/// reproduced: 3–5 % max difference (see README and scripts/authors_jacobian.py); the bound
/// here only pins that gap so that it cannot silently grow.
#[test]
fn our_pairs_reproduce_the_authors_targets_and_library_columns() {
    use medida::library::terms_2d::QgLibrary;
    use medida::library::terms_2d::DEFAULT_QG_TERMS;
    use medida::solvers::{QgScheme, QgStepper, Stepper};
    use medida::systems::SystemSettings;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for case in [1001, 1002, 1007] {
        let path = root.join(format!("data/reference-qg/qg-case{case}-1pair.npz"));
        let text =
            std::fs::read_to_string(root.join(format!("data/qg/qg-case{case}.toml"))).unwrap();
        let config = match medida::Case::from_toml(&text).unwrap().system {
            SystemSettings::Qg(s) => s,
            _ => panic!("a QG case"),
        };
        let (truth, model) = (config.truth_params(), config.model_params());
        let state = |a: &str, b: &str| -> Vec<Complex64> {
            let mut m = QgModel::new(truth.clone()).unwrap();
            let mut field: Vec<f64> = read_matrix(&path, a).unwrap().iter().copied().collect();
            field.extend(read_matrix(&path, b).unwrap().iter().copied());
            let psi = m.to_spectral(&field).unwrap();
            let mut q = vec![Complex64::new(0.0, 0.0); psi.len()];
            m.potential_vorticity(&psi, &mut q);
            q
        };
        let q = state("psi1_t", "psi2_t");
        let step = |params: &QgParams| {
            let mut stepper = QgStepper::new(
                QgModel::new(params.clone()).unwrap(),
                QgScheme::ForwardEuler,
                0.025,
            )
            .unwrap();
            let mut next = q.clone();
            stepper.advance(&mut next, 1, 0).unwrap();
            next
        };
        let (after_truth, after_model) = (step(&truth), step(&model));
        let increment: Vec<Complex64> = after_truth
            .iter()
            .zip(&after_model)
            .map(|(t, m)| (t - m) / 0.025)
            .collect();
        let mut helper = QgModel::new(truth.clone()).unwrap();
        let points = helper.grid().points();
        let mut physical = vec![0.0; 2 * points];
        helper.to_physical(&increment, &mut physical);
        // The authors' ten columns with ∂x and ∂y apart, in this order.
        let names: Vec<String> = DEFAULT_QG_TERMS.iter().map(|s| s.to_string()).collect();
        let mut library = QgLibrary::new(&names, &model, 20).unwrap();
        // Relative to the larger layer's target: case 1007's layer 1 has no error at all.
        let targets: Vec<Vec<f64>> = (1..=2)
            .map(|k| read_vector(&path, &format!("h{k}")).unwrap().to_vec())
            .collect();
        let scale = targets.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        for (layer, theirs) in targets.iter().enumerate() {
            let ours = library.cut(&physical[layer * points..(layer + 1) * points]);
            let d = ours
                .iter()
                .zip(theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
                / scale;
            assert!(d < 1e-10, "case {case}, h{}: {d:e}", layer + 1);
        }
        let columns = library.evaluate(&state("psi1_model_tp1", "psi2_model_tp1"), None);
        let theirs = read_matrix(&path, "library").unwrap();
        let column = |j: usize| theirs.column(j).to_vec();
        let sum = |a: usize, b: usize| -> Vec<f64> {
            columns[a]
                .iter()
                .zip(&columns[b])
                .map(|(x, y)| x + y)
                .collect()
        };
        for (ours, j, tolerance, label) in [
            (columns[0].clone(), 0, 1e-10, "lap_psi1"),
            (columns[1].clone(), 1, 1e-10, "lap_psi2"),
            (sum(2, 3), 2, 1e-3, "dxdy_psi1"),
            (sum(4, 5), 3, 1e-3, "dxdy_psi2"),
            (columns[6].clone(), 4, 1e-10, "psi1"),
            (columns[7].clone(), 5, 1e-10, "psi2"),
            (columns[8].clone(), 6, 1e-10, "psiR"),
            (columns[11].clone(), 9, 1e-10, "y"),
        ] {
            let d = relative_difference(&ours, &column(j));
            assert!(d < tolerance, "case {case}, {label}: {d:e}");
        }
        for (ours, j) in [(&columns[9], 7), (&columns[10], 8)] {
            let d = relative_difference(ours, &column(j));
            eprintln!("case {case}, J column {j}: {d:.3e} (the known gap)");
            assert!(d < 0.06, "case {case}, J column {j}: {d:e}");
        }
    }
}
