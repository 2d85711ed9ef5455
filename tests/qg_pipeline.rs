//! MEDIDA on the two-layer QG case: all eight error cases of qg.md, noise-free and fully
//! observed, must recover exactly the expected terms per layer (relaxation and forcing rates
//! as small as 0.01 included) within 1 % and nothing else. One truth spin-up is shared.

use medida::qg_config::QgCase;
use medida::qg_pipeline::run_qg;
use std::path::Path;

fn case(number: u32) -> QgCase {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("data/qg/qg-case{number}.toml"));
    QgCase::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn all_eight_qg_cases_recover_exactly_the_expected_terms_per_layer() {
    let mut failures = Vec::new();
    for number in 1001..=1008 {
        let discovery = run_qg(&case(number), &|_| {}).unwrap();
        for (layer, l) in discovery.layers.iter().enumerate() {
            let mut found: Vec<String> = l
                .fit
                .retained
                .iter()
                .map(|&i| l.fit.names[i].clone())
                .collect();
            let mut wanted: Vec<String> = l.expected.iter().map(|(t, _)| t.clone()).collect();
            found.sort();
            wanted.sort();
            if found != wanted {
                failures.push(format!(
                    "{number} layer {}: expected {wanted:?}, found {}",
                    layer + 1,
                    l.equation
                ));
                continue;
            }
            for (term, value) in &l.expected {
                let i = l.fit.names.iter().position(|n| n == term).unwrap();
                // 1 %: the figure; Euler pairs with the damping correction are exact
                // to ~1e-9, so this has a wide margin.
                if (l.fit.coefficients[i] - value).abs() > 0.01 * value.abs() {
                    failures.push(format!(
                        "{number} layer {}: {term} = {} vs {value}",
                        layer + 1,
                        l.fit.coefficients[i]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn bad_qg_case_files_are_errors_naming_the_key() {
    for (text, key) in [
        (
            "[system]\nkind = \"qg\"\n[observations]\nfraction = 1.5\n",
            "observations.fraction",
        ),
        (
            "[system]\nkind = \"qg\"\n[observations]\nfraction = 0.0\n",
            "observations.fraction",
        ),
        (
            "[system]\nkind = \"qg\"\n[library]\nterms = [\"lap(psi3)\"]\n",
            "lap(psi3)",
        ),
        (
            "[system]\nkind = \"qg\"\n[model]\nrelaxaton = 0.1\n",
            "relaxaton",
        ),
        (
            "[system]\nkind = \"qg\"\n[regression]\nprune_alpha = \"sometimes\"\n",
            "regression.prune_alpha",
        ),
    ] {
        let err = QgCase::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}
