//! The relevance vector machine against known truth: synthetic sparse problems with known
//! noise, ordinary least squares on a dense problem, degenerate inputs, and the authors' own
//! KS regression matrices.

use medida::npz::{read_labels, read_matrix, read_vector};
use medida::regression::normal_equations::NormalEquations;
use medida::regression::resample::Blocks;
use medida::regression::rvm::{fit, RvmFit, RvmMethod, RvmSettings};
use medida::regression::sweep::{select, PruneAlpha, Selection};
use nalgebra::{DMatrix, DVector};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;

fn names(p: usize) -> Vec<String> {
    (0..p).map(|j| format!("c{j}")).collect()
}

/// Gaussian design with correlated columns, y = X w + σ ε.
fn synthetic(rows: usize, w: &[f64], sigma: f64, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = w.len();
    let mut x = Array2::<f64>::zeros((rows, p));
    for r in 0..rows {
        let shared: f64 = StandardNormal.sample(&mut rng);
        for j in 0..p {
            let own: f64 = StandardNormal.sample(&mut rng);
            // Correlated columns (ρ ≈ 0.3) with different scales and offsets.
            x[[r, j]] = (j as f64 + 1.0) * (own + 0.3 * shared) + j as f64;
        }
    }
    let y = Array1::from_shape_fn(rows, |r| {
        let e: f64 = StandardNormal.sample(&mut rng);
        (0..p).map(|j| x[[r, j]] * w[j]).sum::<f64>() + 0.7 + sigma * e
    });
    (x, y)
}

fn stats(x: &Array2<f64>, y: &Array1<f64>) -> NormalEquations {
    let mut ne = NormalEquations::new(names(x.ncols()));
    ne.add(x.view(), y.view()).unwrap();
    ne
}

fn settings(method: RvmMethod) -> RvmSettings {
    RvmSettings {
        method,
        ..RvmSettings::default()
    }
}

fn assert_recovers(result: &RvmFit, w: &[f64], sigma: f64) {
    let support: Vec<usize> = (0..w.len()).filter(|&j| w[j] != 0.0).collect();
    assert_eq!(result.retained, support, "support");
    for &j in &support {
        let z = (result.coefficients[j] - w[j]) / result.std[j];
        assert!(
            z.abs() < 3.0,
            "c{j}: {} ± {} vs {}",
            result.coefficients[j],
            result.std[j],
            w[j]
        );
    }
    let noise = result.noise_std();
    assert!(
        (noise / sigma - 1.0).abs() < 0.1,
        "noise {noise} vs {sigma}"
    );
    assert!(result.converged);
}

const W: [f64; 10] = [0.0, 2.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.25, 0.0];

#[test]
fn reestimation_recovers_a_sparse_model_exactly() {
    let (x, y) = synthetic(4000, &W, 0.5, 1);
    assert_recovers(
        &fit(&stats(&x, &y), &settings(RvmMethod::Reestimate)).unwrap(),
        &W,
        0.5,
    );
}

#[test]
fn fast_algorithm_recovers_a_sparse_model_exactly() {
    let (x, y) = synthetic(4000, &W, 0.5, 7);
    assert_recovers(
        &fit(&stats(&x, &y), &settings(RvmMethod::Fast)).unwrap(),
        &W,
        0.5,
    );
}

#[test]
fn the_two_algorithms_agree() {
    let (x, y) = synthetic(3000, &W, 0.3, 3);
    let ne = stats(&x, &y);
    let a = fit(&ne, &settings(RvmMethod::Reestimate)).unwrap();
    let b = fit(&ne, &settings(RvmMethod::Fast)).unwrap();
    assert_eq!(a.retained, b.retained);
    for &j in &a.retained {
        // Both sit at (nearly) the same evidence maximum: agree well inside one posterior σ.
        assert!(
            (a.coefficients[j] - b.coefficients[j]).abs() < 0.1 * a.std[j],
            "c{j}"
        );
    }
}

#[test]
fn dense_well_posed_problem_matches_least_squares() {
    let w = [1.0, -2.0, 0.5, 3.0, -1.5];
    let (x, y) = synthetic(5000, &w, 0.01, 4);
    let result = fit(&stats(&x, &y), &settings(RvmMethod::Reestimate)).unwrap();
    // OLS with intercept, by QR.
    let rows = x.nrows();
    let a = DMatrix::from_fn(rows, 6, |r, j| if j == 5 { 1.0 } else { x[[r, j]] });
    let b = DVector::from_iterator(rows, y.iter().copied());
    let ols = a.svd(true, true).solve(&b, 1e-12).unwrap();
    for j in 0..5 {
        assert!(
            (result.coefficients[j] - ols[j]).abs() < 1e-6 * ols[j].abs().max(1.0),
            "c{j}: {} vs {}",
            result.coefficients[j],
            ols[j]
        );
    }
}

#[test]
fn constant_and_duplicated_columns_are_dropped_with_a_reason() {
    let (x, y) = synthetic(500, &[1.0, 0.0, -2.0], 0.1, 5);
    let mut wide = Array2::<f64>::zeros((500, 5));
    for r in 0..500 {
        wide[[r, 0]] = x[[r, 0]];
        wide[[r, 1]] = x[[r, 1]];
        wide[[r, 2]] = x[[r, 2]];
        wide[[r, 3]] = 4.2; // constant: the intercept absorbs it
        wide[[r, 4]] = 2.0 * x[[r, 0]]; // duplicates column 0
    }
    for method in [RvmMethod::Reestimate, RvmMethod::Fast] {
        let result = fit(&stats(&wide, &y), &settings(method)).unwrap();
        let dropped: Vec<usize> = result.dropped.iter().map(|d| d.index).collect();
        assert_eq!(dropped, vec![3, 4]);
        assert!(
            result.dropped[1].reason.contains("c0"),
            "{:?}",
            result.dropped
        );
        assert_eq!(result.retained, vec![0, 2]);
        assert!(result.coefficients.iter().all(|c| c.is_finite()));
    }
}

#[test]
fn all_zero_target_gives_the_empty_model() {
    let (x, _) = synthetic(200, &W, 0.1, 6);
    let y = Array1::zeros(200);
    let result = fit(&stats(&x, &y), &RvmSettings::default()).unwrap();
    assert!(result.retained.is_empty() && result.converged);
    assert!(result.coefficients.iter().all(|&c| c == 0.0));
}

#[test]
fn nan_in_a_row_is_an_error() {
    let (mut x, y) = synthetic(50, &W, 0.1, 8);
    x[[17, 4]] = f64::NAN;
    let mut ne = NormalEquations::new(names(10));
    let err = ne.add(x.view(), y.view()).unwrap_err().to_string();
    assert!(err.contains("row 17") && err.contains("c4"), "{err}");
}

/// The automatic choice on contiguous row blocks of a matrix, as `medida fit` makes it.
fn automatic(x: &Array2<f64>, y: &Array1<f64>, labels: &[String]) -> Selection {
    let blocks = Blocks::of_rows(labels.to_vec(), x.view(), y.view(), 1).unwrap();
    select(&blocks, &RvmSettings::default(), PruneAlpha::Auto, 0.02, 0).unwrap()
}

fn reference_matrix(file: &str) -> (Array2<f64>, Array1<f64>, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/reference-ks")
        .join(file);
    (
        read_matrix(&path, "XX").unwrap(),
        read_vector(&path, "yy").unwrap(),
        read_labels(&path, "X_labels").unwrap(),
    )
}

/// With defaults: exactly the expected terms, each within 1 % of least squares on the true
/// support of the same matrix, and nothing else.
fn assert_finds_exactly(
    selection: &Selection,
    x: &Array2<f64>,
    y: &Array1<f64>,
    labels: &[String],
    wanted: &[usize],
    what: &str,
) {
    let result = &selection.fit;
    assert_eq!(
        result.retained, wanted,
        "{what}: {:?}",
        selection.unsupported
    );
    if wanted.is_empty() {
        return;
    }
    let mut ne = NormalEquations::new(labels.to_vec());
    ne.add(x.view(), y.view()).unwrap();
    let truth = ne.least_squares_on(wanted).unwrap();
    for (&j, t) in wanted.iter().zip(truth) {
        let c = result.coefficients[j];
        assert!(
            (c - t).abs() <= 0.01 * t.abs(),
            "{what}, {}: {c} vs least squares {t}",
            labels[j]
        );
        let inclusion = selection.stability.inclusion.as_ref().unwrap()[j];
        assert!(
            inclusion >= 0.9,
            "{what}, {}: inclusion {inclusion}",
            labels[j]
        );
    }
}

#[test]
fn authors_ks_matrices_give_exactly_their_terms_with_defaults() {
    for (file, wanted) in [
        ("ks-case01-exact-obs.npz", vec!["uu_{x}"]),
        (
            "ks-case10-exact-obs.npz",
            vec!["uu_{x}", "u_{xx}", "u_{xxxx}"],
        ),
    ] {
        let (x, y, labels) = reference_matrix(file);
        let wanted: Vec<usize> = wanted
            .iter()
            .map(|w| labels.iter().position(|l| l == w).unwrap())
            .collect();
        assert_finds_exactly(&automatic(&x, &y, &labels), &x, &y, &labels, &wanted, file);
    }
}

/// The authors' QG regression matrices (one pair each: their ten columns on the model's
/// one-step state, targets h1, h2): exactly the expected terms per layer with defaults,
/// including the 0.07 drag of case 1007 their RVM missed below α = 1e3, within 1 % of least
/// squares on the true support (itself 0.2–1.3 % off the truth, their README says).
#[test]
fn authors_qg_pairs_give_exactly_their_terms_with_defaults_on_every_layer() {
    for case in [1001, 1002, 1004, 1007] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("data/reference-qg/qg-case{case}-1pair.npz"));
        let x = read_matrix(&path, "library").unwrap();
        let labels = read_labels(&path, "labels_ascii").unwrap();
        let expected = read_matrix(&path, "expected_coef").unwrap();
        for layer in 0..2 {
            let y = read_vector(&path, &format!("h{}", layer + 1)).unwrap();
            let wanted: Vec<usize> = (0..labels.len())
                .filter(|&j| expected[[layer, j]] != 0.0)
                .collect();
            let what = format!("QG {case}, layer {}", layer + 1);
            assert_finds_exactly(&automatic(&x, &y, &labels), &x, &y, &labels, &wanted, &what);
        }
    }
}

/// Units: the target ×1e-4 and ×1e4 and one column ×1e3 change the coefficients and their
/// std by the same factors and nothing else.
#[test]
fn the_fit_is_free_of_units() {
    let (x, y, labels) = reference_matrix("ks-case10-exact-obs.npz");
    let base = automatic(&x, &y, &labels);
    let column = labels.iter().position(|l| l == "u_{xx}").unwrap();
    let mut wide = x.clone();
    wide.column_mut(column).mapv_inplace(|v| v * 1e3);
    for (factor, columns, scale_of) in [
        (1e-4, &x, [1e-4; 2]),
        (1e4, &x, [1e4; 2]),
        (1.0, &wide, [1.0, 1e-3]),
    ] {
        let scaled = automatic(columns, &y.mapv(|v| v * factor), &labels);
        assert_eq!(scaled.fit.retained, base.fit.retained, "×{factor}");
        assert_eq!(scaled.prune_alpha, base.prune_alpha, "×{factor}");
        for (j, label) in labels.iter().enumerate() {
            let s = if j == column {
                scale_of[1]
            } else {
                scale_of[0]
            };
            let (a, b) = (scaled.fit.coefficients[j], base.fit.coefficients[j] * s);
            assert!(
                (a - b).abs() <= 1e-8 * b.abs(),
                "×{factor}, {label}: {a} vs {b}"
            );
            let (a, b) = (scaled.fit.std[j], base.fit.std[j] * s);
            assert!(
                (a - b).abs() <= 1e-6 * b.abs(),
                "×{factor}, {label} std: {a} vs {b}"
            );
        }
        // The same evidence ordering along the sweep: the same models, the same evidences.
        for (p, q) in scaled.sweep.iter().zip(&base.sweep) {
            assert_eq!(
                p.fit.retained, q.fit.retained,
                "×{factor} at α = {}",
                p.prune_alpha
            );
            let (a, b) = (p.fit.log_evidence, q.fit.log_evidence);
            assert!(
                a == b || (a - b).abs() <= 1e-8 * b.abs(),
                "×{factor}: {a} vs {b}"
            );
        }
        assert_eq!(
            scaled.stability.inclusion, base.stability.inclusion,
            "×{factor}"
        );
    }
}

#[test]
fn pure_noise_gives_the_empty_model_with_its_evidence() {
    for seed in 0..5 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let (rows, p) = (4000, 12);
        let x = Array2::from_shape_fn((rows, p), |_| StandardNormal.sample(&mut rng));
        let y = Array1::from_shape_fn(rows, |_| StandardNormal.sample(&mut rng));
        let selection = automatic(&x, &y, &names(p));
        assert!(
            selection.fit.retained.is_empty(),
            "seed {seed}: {:?}",
            selection.fit.retained
        );
        let why = selection.unsupported.expect("a reason").to_string();
        assert!(why.starts_with("no term is supported by the data"), "{why}");
        // The noise is the target's own spread.
        let sd = (y.mapv(|v| v * v).mean().unwrap() - y.mean().unwrap().powi(2)).sqrt();
        assert!((selection.fit.noise_std() / sd - 1.0).abs() < 1e-9);
    }
}

#[test]
fn every_constant_column_still_reports_the_noise() {
    let x = Array2::from_elem((100, 2), 3.0);
    let y = Array1::from_shape_fn(100, |i| (i % 7) as f64);
    let result = fit(&stats(&x, &y), &RvmSettings::default()).unwrap();
    let sd = (y.mapv(|v| v * v).mean().unwrap() - y.mean().unwrap().powi(2)).sqrt();
    assert!(result.retained.is_empty());
    assert!(
        (result.noise_std() / sd - 1.0).abs() < 1e-12,
        "{}",
        result.noise_std()
    );
}

#[test]
fn ill_posed_libraries_are_errors_naming_the_terms() {
    let (x, y) = synthetic(500, &[1.0, 0.0, -2.0], 0.1, 5);
    // A column that is a combination of two others (not a multiple of either).
    let mut combined = Array2::<f64>::zeros((500, 4));
    for r in 0..500 {
        for j in 0..3 {
            combined[[r, j]] = x[[r, j]];
        }
        combined[[r, 3]] = x[[r, 0]] - 0.5 * x[[r, 2]];
    }
    let err = fit(&stats(&combined, &y), &RvmSettings::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ill-posed") && err.contains("`c3`"), "{err}");
    // An identically zero column.
    let mut zero = x.clone();
    zero.column_mut(1).fill(0.0);
    let err = fit(&stats(&zero, &y), &RvmSettings::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`c1`") && err.contains("identically zero"),
        "{err}"
    );
    // More columns than rows.
    let (x, y) = synthetic(6, &[1.0; 10], 0.1, 6);
    let err = fit(&stats(&x, &y), &RvmSettings::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("10 columns but only 6 rows"), "{err}");
    // Powers of one field beyond what 128 rows can tell apart (the max_power = 50 case).
    let u: Vec<f64> = (0..128).map(|i| (i as f64 * 0.05).sin()).collect();
    let powers = Array2::from_shape_fn((128, 50), |(r, j)| u[r].powi(j as i32 + 1));
    let target = Array1::from_shape_fn(128, |r| u[r] * 0.3);
    let err = fit(&stats(&powers, &target), &RvmSettings::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linear combination") && err.contains("`c49`"),
        "{err}"
    );
    // The same term written twice.
    use medida::library::terms_1d::{Derivatives, TermLibrary};
    let err = TermLibrary::from_names(&["u*u_x", "u_xx", "u_x*u"], Derivatives::Spectral)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`u*u_x` and `u_x*u` are the same term"),
        "{err}"
    );
}

#[test]
fn authors_noisy_matrix_gives_a_finite_reported_result() {
    // Their RVM did not converge here; ours must return a finite answer and say whether it
    // converged, never crash.
    let (x, y, labels) = reference_matrix("ks-case10-noise1pct-enkf1000.npz");
    let mut ne = NormalEquations::new(labels.clone());
    ne.add(x.view(), y.view()).unwrap();
    for method in [RvmMethod::Reestimate, RvmMethod::Fast] {
        let result = fit(&ne, &settings(method)).unwrap();
        assert!(result.coefficients.iter().all(|c| c.is_finite()));
    }
    // What a fixed threshold keeps here explains almost nothing of unseen rows: the
    // automatic choice says so instead of reporting it.
    let selection = automatic(&x, &y, &labels);
    assert!(selection.fit.retained.is_empty());
    let why = selection.unsupported.unwrap().to_string();
    assert!(why.contains("does not predict held-out data"), "{why}");
}

/// `medida fit` reads integer arrays (converted to f64) and names the term it finds.
#[test]
fn fit_reads_integer_arrays() {
    use ndarray_npy::NpzWriter;
    let dir = std::env::temp_dir().join(format!("medida-fit-int-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows = 400i64;
    let x = Array2::from_shape_fn((rows as usize, 3), |(r, j)| {
        ((r as i64 * (7 + 3 * j as i64)) % 23) - 11
    });
    let y = Array1::from_shape_fn(rows as usize, |r| (3 * x[[r, 1]] + (r as i64 % 2)) as i32);
    let data = dir.join("int.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&data).unwrap());
    npz.add_array("X", &x).unwrap();
    npz.add_array("y", &y).unwrap();
    npz.finish().unwrap();
    let labels = dir.join("labels.txt");
    std::fs::write(&labels, "a\nb\nc\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medida"))
        .args([
            "fit",
            data.to_str().unwrap(),
            "--labels-file",
            labels.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("y = 3.00") && text.contains(" b"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).ok();
}
