//! The whole pipeline on the built-in KS cases: every noise-free case must recover exactly
//! the expected terms (truth − model) within 0.5 % and nothing else; bad case files must give
//! clear errors.

use medida::systems::ks::KsSettings;
use medida::systems::SystemSettings;
use medida::{run, Case, Discovery};
use std::path::Path;

fn case(name: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/ks")
        .join(format!("{name}.toml"));
    Case::from_file(&path).unwrap()
}

/// Relative coefficient errors per expected term, or a description of what went wrong.
/// The KS settings of a KS case.
fn ks(case: &mut Case) -> &mut KsSettings {
    match &mut case.system {
        SystemSettings::Ks(s) => s,
        _ => panic!("a KS case"),
    }
}

fn check(discovery: &Discovery, tolerance: f64) -> Result<Vec<(String, f64)>, String> {
    let d = &discovery.components[0];
    let name = &discovery.name;
    let found: Vec<String> = d
        .fit
        .retained
        .iter()
        .map(|&i| d.fit.names[i].clone())
        .collect();
    let mut expected: Vec<String> = d.expected.iter().map(|(t, _)| t.clone()).collect();
    let mut sorted_found = found.clone();
    expected.sort();
    sorted_found.sort();
    if expected != sorted_found {
        return Err(format!(
            "{}: expected terms {expected:?}, found {}",
            name, d.equation
        ));
    }
    let mut errors = Vec::new();
    for (term, value) in &d.expected {
        let i = d.fit.names.iter().position(|n| n == term).unwrap();
        let relative = (d.fit.coefficients[i] - value).abs() / value.abs();
        if relative >= tolerance {
            return Err(format!(
                "{}: {term} = {} vs {value} ({:.3} %)",
                name,
                d.fit.coefficients[i],
                100.0 * relative
            ));
        }
        errors.push((term.clone(), relative));
    }
    Ok(errors)
}

/// Noisy data at the paper's step: cases 1, 3, 7, 10, 11 and 18 at 1 % noise, CNAB2 with
/// Δt = 5e-3, 100 pairs and the default `observations.interval = "auto"` (a window of several
/// steps with sensitivity columns): exactly the expected terms, each within 2 % (measured
/// 0.05 / 0.85 / 0.04 / 0.09 / 1.24 / 0.13 %).
#[test]
fn discovers_the_error_from_one_percent_noise_at_the_papers_step() {
    let mut failures = Vec::new();
    for k in [1, 3, 7, 10, 11, 18] {
        let c = case(&format!("ks-case{k:02}-noise1"));
        assert!(
            c.observations.pairs <= 100 && c.observations.noise == medida::case::Noise::Given(0.01)
        );
        match &c.system {
            medida::systems::SystemSettings::Ks(s) => assert_eq!(s.model.dt, 5e-3),
            _ => unreachable!(),
        }
        let discovery = run(&c, &|_| {}).unwrap();
        if let Err(e) = check(&discovery, 0.02) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `observations.interval` must be a whole number of model steps; a window of one step is
/// today's single-step regression.
#[test]
fn the_interval_is_checked_and_one_step_is_the_single_step_regression() {
    let mut c = case("ks-case01-noise1");
    c.observations.interval = Some(medida::case::Threshold::Fixed(7.5e-3));
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("observations.interval") && e.contains("whole number"),
        "{e}"
    );
    c.observations.interval = Some(medida::case::Threshold::Fixed(5e-3));
    c.observations.pairs = 30;
    let one = run(&c, &|_| {}).unwrap();
    assert_eq!(one.window, 1);
    assert!(one.window_choice.is_none());
    c.observations.interval = Some(medida::case::Threshold::Fixed(4.0 * 5e-3));
    let four = run(&c, &|_| {}).unwrap();
    assert_eq!(four.window, 4);
    // The window's noise averaging shows in the posterior std of the advection coefficient.
    let std = |d: &Discovery| {
        let fit = &d.components[0].fit;
        let j = fit.names.iter().position(|n| n == "u*u_x").unwrap();
        fit.std[j]
    };
    assert!(
        std(&four) < 0.5 * std(&one),
        "{} vs {}",
        std(&four),
        std(&one)
    );
    check(&four, 0.02).unwrap();
}

/// Sparse observations (interfaces.md's `every` and `random` operators): the start states are
/// fitted through the sensors by spectral least squares and the regression keeps to the modes
/// they determine. Measured: 0.05 % from every 4th point exact, 0.5 % from 256 random sensors
/// with 1 % noise; held to 0.5 % and 5 % (the noisy target).
#[test]
fn discovers_the_error_from_sparse_sensors() {
    let exact = run(&case("ks-case01-every4"), &|_| {}).unwrap();
    check(&exact, 0.005).unwrap();
    assert_eq!(exact.projection_modes, Some(64));
    let noisy = run(&case("ks-case01-random256-noise1"), &|_| {}).unwrap();
    check(&noisy, 0.05).unwrap();
    assert!(noisy.projection_modes.unwrap() <= 64);
}

/// The ensemble path runs end to end. Its accuracy is deliberately not asserted: an
/// isolated-pair ensemble of 40 members shrinks the increment towards the ensemble subspace
/// (medida.md; README's comparison), which is why `auto` does not use it for full data.
#[test]
fn ensemble_assimilation_runs_end_to_end_and_finds_advection_first() {
    let mut c = case("ks-case01-noise1");
    // The longer step the ensemble path was measured at (an ensemble filter uses one step).
    if let SystemSettings::Ks(s) = &mut c.system {
        s.model.dt = 2e-2;
    }
    c.observations.pairs = 10;
    c.assimilation.method = medida::case::AssimilationMethod::Letkf;
    c.assimilation.members = 40;
    c.assimilation.localization = 5.0;
    let d = run(&c, &|_| {}).unwrap();
    assert_eq!(d.assimilation, "letkf");
    let discovery = &d.components[0];
    let largest = discovery
        .fit
        .retained
        .iter()
        .max_by(|&&a, &&b| {
            discovery.fit.coefficients[a]
                .abs()
                .total_cmp(&discovery.fit.coefficients[b].abs())
        })
        .copied()
        .expect("something discovered");
    assert_eq!(
        discovery.fit.names[largest], "u*u_x",
        "{}",
        discovery.equation
    );
    assert!(
        discovery.fit.coefficients[largest] < -0.3,
        "{}",
        discovery.equation
    );
}

#[test]
fn all_eighteen_noise_free_cases_recover_exactly_the_expected_terms() {
    let mut failures = Vec::new();
    for k in 1..=18 {
        let name = format!("ks-case{k:02}");
        let discovery = run(&case(&name), &|_| {}).unwrap();
        // 0.5 %: the acceptance figure of the issue. The φ(dt L) correction and the refinement
        // passes bring every case to round-off level here (measured: < 0.001 %); before the
        // refinement, case 11 (hyper-diffusion doubled) sat at 0.51 % / 0.66 %.
        match check(&discovery, 5e-3) {
            Ok(errors) => eprintln!("{name}: {}   {errors:?}", discovery.components[0].equation),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn corrected_model_forecasts_better_than_the_imperfect_one() {
    let d = run(&case("ks-case01"), &|_| {}).unwrap();
    let skill = d.skill.expect("skill computed");
    let imperfect = skill
        .imperfect_time_to_half
        .expect("missing advection diverges fast");
    let corrected = skill.corrected_time_to_half.unwrap_or(f64::INFINITY);
    assert!(corrected > 5.0 * imperfect, "{imperfect} vs {corrected}");
}

#[test]
fn bad_case_files_are_errors_naming_the_key() {
    for (text, key) in [
        ("[observations]\nnoize = 0.1\n", "noize"),
        ("[library]\nterms = [\"u*u_y\"]\n", "u*u_y"),
        (
            "[assimilation]\nmethod = \"etkf\"\n[observations]\nnoise = 0\n",
            "assimilation.method",
        ),
        (
            "[assimilation]\nmethod = \"enkf\"\nmembers = 1\n",
            "assimilation.members",
        ),
    ] {
        let err = Case::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn a_model_that_blows_up_in_one_step_is_a_clear_error() {
    let mut c = Case::from_toml(
        "[observations]\nnoise = 0.0\npairs = 2\n[truth]\nspinup = 1.0\nduration = 2.0\n",
    )
    .unwrap();
    ks(&mut c).model.scheme = "rk4".into(); // explicit RK4 with dt = 5e-3 on u_xxxx at N = 1024: unstable
    ks(&mut c).model.rhs.insert("u_xxxx".into(), -1e6);
    let err = match run(&c, &|_| {}) {
        Ok(d) => panic!("expected an error, got {}", d.components[0].equation),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("model") && err.contains("finite"), "{err}");
}

#[test]
fn a_truth_that_blows_up_in_spinup_is_a_clear_error() {
    // Anti-diffusion (-u_xx) without the stabilising hyper-diffusion: mode k grows as e^{k² t}.
    let c = Case::from_toml(
        "[truth]\nrhs = { \"u*u_x\" = -1.0, \"u_xx\" = -1.0 }\nspinup = 100.0\nduration = 1.0\n[observations]\npairs = 1\n",
    )
    .unwrap();
    let err = match run(&c, &|_| {}) {
        Ok(d) => panic!("expected an error, got {}", d.components[0].equation),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("truth") && err.contains("finite"), "{err}");
}

/// A cycled filter on a perfect model: the analyses follow the truth and the increments hold
/// nothing but noise, so nothing is discovered (the filter, not the data, would be the error).
#[test]
fn a_cycled_filter_on_a_perfect_model_finds_no_error() {
    let c = Case::from_toml(
        "[model]\nrhs = { \"u*u_x\" = -1, \"u_xx\" = -1, \"u_xxxx\" = -1 }\ndt = 2e-2\n\
         [truth]\nduration = 6.0\n[observations]\npairs = 3\nnoise = 0.01\n\
         [assimilation]\nmethod = \"etkf\"\nmembers = 20\ncycles = 4\nperturbation = 0.013\n",
    )
    .unwrap();
    let d = run(&c, &|_| {}).unwrap();
    assert_eq!(d.assimilation, "etkf");
    let u = &d.components[0];
    assert!(u.expected.is_empty());
    assert!(u.fit.retained.is_empty(), "{}", u.equation);
}
