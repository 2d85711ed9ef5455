//! Which automatic model choice? Four rules on the authors' own regression matrices
//! (data/reference-ks, data/reference-qg), each against the terms the matrix was made from:
//!
//! - fixed: one dimensionless threshold, prune_alpha = 1e2 (the paper's number);
//! - evidence: the sweep point of largest log marginal likelihood;
//! - knee: the sparsest sweep model within the knee tolerance of the best (F ≥ 10);
//! - knee + held-out (medida's default): the knee, kept only when it predicts held-out row
//!   blocks (mean explained fraction ≥ 3 standard errors).
//!
//! ```text
//! cargo run --release --example model_choice
//! ```

use medida::npz::{read_labels, read_matrix, read_vector};
use medida::regression::resample::Blocks;
use medida::regression::rvm::{fit, RvmSettings};
use medida::regression::sweep::{select, select_knee, PruneAlpha};
use ndarray::{Array1, Array2};
use std::path::Path;

struct Matrix {
    name: String,
    x: Array2<f64>,
    y: Array1<f64>,
    labels: Vec<String>,
    /// The terms it was made from (None: unknown, the noisy EnKF matrix).
    wanted: Option<Vec<usize>>,
}

fn matrices() -> medida::Result<Vec<Matrix>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut out = Vec::new();
    for (file, wanted) in [
        ("ks-case01-exact-obs", Some(vec!["uu_{x}"])),
        (
            "ks-case10-exact-obs",
            Some(vec!["uu_{x}", "u_{xx}", "u_{xxxx}"]),
        ),
        ("ks-case10-noise1pct-enkf1000", None),
    ] {
        let path = root.join(format!("reference-ks/{file}.npz"));
        let labels = read_labels(&path, "X_labels")?;
        let wanted = wanted.map(|w: Vec<&str>| {
            w.iter()
                .filter_map(|t| labels.iter().position(|l| l == t))
                .collect()
        });
        out.push(Matrix {
            name: file.into(),
            x: read_matrix(&path, "XX")?,
            y: read_vector(&path, "yy")?,
            labels,
            wanted,
        });
    }
    for case in [1001, 1002, 1004, 1007] {
        let path = root.join(format!("reference-qg/qg-case{case}-1pair.npz"));
        let labels = read_labels(&path, "labels_ascii")?;
        let expected = read_matrix(&path, "expected_coef")?;
        for layer in 0..2 {
            out.push(Matrix {
                name: format!("qg-case{case} layer {}", layer + 1),
                x: read_matrix(&path, "library")?,
                y: read_vector(&path, &format!("h{}", layer + 1))?,
                wanted: Some(
                    (0..labels.len())
                        .filter(|&j| expected[[layer, j]] != 0.0)
                        .collect(),
                ),
                labels: labels.clone(),
            });
        }
    }
    Ok(out)
}

fn verdict(found: &[usize], wanted: &Option<Vec<usize>>) -> String {
    match wanted {
        Some(w) if found == w.as_slice() => "exact".into(),
        Some(w) => {
            let spurious = found.iter().filter(|i| !w.contains(i)).count();
            let missed = w.iter().filter(|i| !found.contains(i)).count();
            format!("+{spurious} −{missed}")
        }
        None => format!("{} terms", found.len()),
    }
}

fn main() -> medida::Result<()> {
    let settings = RvmSettings::default();
    println!(
        "| matrix | fixed 1e2 | max evidence | knee | knee + held-out (default) |\n|---|---|---|---|---|"
    );
    for m in matrices()? {
        let blocks = Blocks::of_rows(m.labels.clone(), m.x.view(), m.y.view(), 1)?;
        let chosen = select(&blocks, &settings, PruneAlpha::Auto, 0.02, 0)?;
        let fixed = fit(
            &blocks.total(),
            &RvmSettings {
                prune_alpha: 1e2,
                ..settings.clone()
            },
        )?;
        let sweep = &chosen.sweep;
        let evidence = sweep
            .iter()
            .filter(|p| p.fit.log_evidence.is_finite())
            .max_by(|a, b| a.fit.log_evidence.total_cmp(&b.fit.log_evidence))
            .map_or(Vec::new(), |p| p.fit.retained.clone());
        let knee = select_knee(sweep, 0.02).map_or(Vec::new(), |i| sweep[i].fit.retained.clone());
        println!(
            "| {} | {} | {} | {} | {} |",
            m.name,
            verdict(&fixed.retained, &m.wanted),
            verdict(&evidence, &m.wanted),
            verdict(&knee, &m.wanted),
            verdict(&chosen.fit.retained, &m.wanted),
        );
    }
    Ok(())
}
