//! Property tests: whatever the input — a mutated built-in case file, a random term string, a
//! random `.npz` for `medida fit`, a random observation file — medida never panics, never
//! aborts, and every outcome is either a result or an error naming the problem. Each property
//! is bounded to a few seconds (few cases, tiny grids). Inputs they found are kept below as
//! regression tests.

use medida::case::Case;
use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medida-prop-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every built-in case file's text.
fn builtin_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["data/ks", "data/qg", "data/files"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Extreme and wrong-typed replacement values.
fn odd_value() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        Just(toml::Value::Integer(0)),
        Just(toml::Value::Integer(-1)),
        Just(toml::Value::Integer(i64::MAX)),
        Just(toml::Value::Float(1e308)),
        Just(toml::Value::Float(-1e308)),
        Just(toml::Value::Float(1e-300)),
        Just(toml::Value::Float(f64::NAN)),
        Just(toml::Value::Float(f64::INFINITY)),
        Just(toml::Value::String("banana".into())),
        Just(toml::Value::String(String::new())),
        Just(toml::Value::Boolean(true)),
        Just(toml::Value::Array(vec![])),
        Just(toml::Value::Table(toml::Table::new())),
    ]
}

/// Every (section, key) of a case file, top-level keys with an empty section.
fn keys(table: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => {
                out.extend(t.keys().map(|inner| (k.clone(), inner.clone())));
            }
            _ => out.push((String::new(), k.clone())),
        }
    }
    out
}

fn mutate(text: &str, which: usize, value: Option<toml::Value>) -> String {
    let mut table: toml::Table = text.parse().unwrap();
    let all = keys(&table);
    let (section, key) = &all[which % all.len()];
    let target = if section.is_empty() {
        &mut table
    } else {
        table.get_mut(section).unwrap().as_table_mut().unwrap()
    };
    match value {
        Some(v) => {
            target.insert(key.clone(), v);
        }
        None => {
            target.remove(key);
        }
    }
    toml::to_string(&table).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// A built-in case with one key dropped or replaced parses to a case or to an error
    /// naming a key, never a panic.
    #[test]
    fn mutated_case_files_parse_or_name_the_problem(
        file in 0usize..64, which in 0usize..64, value in proptest::option::of(odd_value())
    ) {
        let texts = builtin_texts();
        let (_, text) = &texts[file % texts.len()];
        let mutated = mutate(text, which, value);
        let outcome = catch_unwind(|| Case::from_toml(&mutated).map(|_| ()));
        prop_assert!(outcome.is_ok(), "panicked on\n{mutated}");
        if let Ok(Err(e)) = outcome {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Term strings: a term or an error, never a panic.
    #[test]
    fn random_term_strings_parse_or_say_why(name in "[u_x*^0-9 ()a-z]{0,16}") {
        let outcome = catch_unwind(|| {
            let _ = name.parse::<medida::solvers::Term>();
            let _ = medida::library::terms_1d::TermLibrary::from_names(
                &[name.as_str(), "u_xx"],
                medida::library::terms_1d::Derivatives::Spectral,
            );
            let _ = medida::library::terms_2d::QgColumn::parse(&name);
        });
        prop_assert!(outcome.is_ok(), "panicked on `{name}`");
    }

    /// Tiny KS runs with one extreme setting: a discovery or an error, never a panic.
    #[test]
    fn tiny_runs_with_extreme_settings_end_in_a_result_or_an_error(
        which in 0usize..8, value in odd_value()
    ) {
        let text = "[system]\npoints = 64\n[truth]\nspinup = 1.0\nduration = 2.0\n\
                    [model]\nrhs = { \"u_xx\" = -1, \"u_xxxx\" = -1 }\n\
                    [observations]\npairs = 2\nnoise = 0.01\n[library]\nmax_power = 1\nmax_derivative = 2\n";
        let mutated = mutate(text, which, Some(value));
        let outcome = catch_unwind(AssertUnwindSafe(|| match Case::from_toml(&mutated) {
            Ok(case) if case.system.points() <= 4096 && case.observations.pairs <= 4 => {
                medida::run(&case, &|_| {}).map(|_| ())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }));
        prop_assert!(outcome.is_ok(), "panicked on\n{mutated}");
    }
}

/// A random array in one of several dtypes, with NaN/inf sprinkled in.
#[derive(Clone, Debug)]
enum RandomArray {
    F64(Vec<usize>, Vec<f64>),
    F32(Vec<usize>, Vec<f32>),
    I32(Vec<usize>, Vec<i32>),
}

fn random_array(max_rows: usize, max_cols: usize) -> impl Strategy<Value = RandomArray> {
    let value = prop_oneof![
        8 => -1e3f64..1e3,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
    ];
    (
        0..=max_rows,
        0..=max_cols,
        0usize..3,
        proptest::collection::vec(value, 0..=max_rows * max_cols),
    )
        .prop_map(move |(r, c, kind, values)| {
            let mut data: Vec<f64> = values.into_iter().cycle().take(r * c).collect();
            data.resize(r * c, 1.0);
            let shape = vec![r, c];
            match kind {
                0 => RandomArray::F64(shape, data),
                1 => RandomArray::F32(shape, data.iter().map(|&v| v as f32).collect()),
                _ => RandomArray::I32(
                    shape,
                    data.iter()
                        .map(|&v| if v.is_finite() { v as i32 } else { 7 })
                        .collect(),
                ),
            }
        })
}

fn write(npz: &mut NpzWriter<std::fs::File>, name: &str, a: &RandomArray) {
    match a {
        RandomArray::F64(s, v) => npz.add_array(
            name,
            &Array2::from_shape_vec((s[0], s[1]), v.clone()).unwrap(),
        ),
        RandomArray::F32(s, v) => npz.add_array(
            name,
            &Array2::from_shape_vec((s[0], s[1]), v.clone()).unwrap(),
        ),
        RandomArray::I32(s, v) => npz.add_array(
            name,
            &Array2::from_shape_vec((s[0], s[1]), v.clone()).unwrap(),
        ),
    }
    .unwrap();
}

/// The process either succeeds or exits 1 with one `error:` line: never a panic (101) or an
/// abort (134).
fn assert_clean_exit(out: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(1) => assert!(stderr.starts_with("error: "), "{what}: {stderr}"),
        other => panic!("{what}: exit {other:?}\n{stderr}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// `medida fit` on random `.npz` files (shapes, dtypes, NaN/inf, empty, labels that do not
    /// match).
    #[test]
    fn fit_on_random_npz_files_exits_cleanly(
        x in random_array(40, 5), y in random_array(40, 1), labels in 0usize..7
    ) {
        let dir = scratch("fit");
        let data = dir.join("m.npz");
        let mut npz = NpzWriter::new(std::fs::File::create(&data).unwrap());
        write(&mut npz, "X", &x);
        write(&mut npz, "y", &y);
        npz.finish().unwrap();
        let names = dir.join("labels.txt");
        let text: String = (0..labels).map(|i| format!("c{i}\n")).collect();
        std::fs::write(&names, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_medida"))
            .args(["fit", data.to_str().unwrap(), "--labels-file", names.to_str().unwrap()])
            .output()
            .unwrap();
        assert_clean_exit(&out, &format!("{x:?} {y:?}"));
        std::fs::remove_dir_all(dir).ok();
    }

    /// Random observation files for a tiny KS case: a discovery or an error naming the file.
    #[test]
    fn random_observation_files_give_a_result_or_an_error(
        times in proptest::collection::vec(0.0f64..0.1, 0..8),
        u in random_array(8, 64), spaced in any::<bool>()
    ) {
        let dir = scratch("obs");
        let file = dir.join("o.npz");
        let t: Vec<f64> = if spaced {
            (0..times.len()).map(|i| i as f64 * 5e-3).collect()
        } else {
            times
        };
        let mut npz = NpzWriter::new(std::fs::File::create(&file).unwrap());
        npz.add_array("t", &Array1::from(t)).unwrap();
        write(&mut npz, "u", &u);
        npz.finish().unwrap();
        let case = Case::from_toml(&format!(
            "[system]\npoints = 64\n[library]\nmax_power = 1\nmax_derivative = 2\n\
             [observations]\nfile = \"{}\"\nnoise = 0.01\npairs = 0\n",
            file.display()
        ))
        .unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| medida::run(&case, &|_| {}).map(|_| ())));
        prop_assert!(outcome.is_ok(), "panicked on {u:?}");
        if let Ok(Err(e)) = outcome {
            let message = e.to_string();
            prop_assert!(!message.is_empty());
        }
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A run planned to need far more than the machine has is refused at once, naming the keys.
#[test]
fn a_run_asking_for_ten_times_the_memory_is_refused_within_a_second() {
    let (budget, _) = medida::memory::budget().expect("a known budget on Linux");
    // Per KS pair: three levels of states four times (truth, cached truth, observations,
    // estimates); the library columns are one pair's at a time.
    let per_pair = 4 * 3 * 1024 * 8;
    let pairs = 10 * budget / per_pair;
    // Held: streamed pairs (`"auto"` streams past 64 MB) take no memory per pair.
    let text = |streaming: &str| {
        format!(
            "[truth]\nduration = {}\n[observations]\npairs = {pairs}\nstreaming = \"{streaming}\"\n",
            pairs as f64 * 0.011
        )
    };
    let streamed = Case::from_toml(&text("auto")).unwrap();
    let planned: f64 = medida::memory::plan(&streamed, pairs as usize)
        .iter()
        .map(|i| i.1)
        .sum();
    assert!(
        planned < 200e6,
        "{planned} bytes planned for {pairs} streamed pairs"
    );
    let case = Case::from_toml(&text("never")).unwrap();
    let clock = std::time::Instant::now();
    let err = medida::run(&case, &|_| {}).unwrap_err().to_string();
    assert!(clock.elapsed().as_secs_f64() < 1.0);
    assert!(
        err.contains("this run needs about") && err.contains("lower observations.pairs"),
        "{err}"
    );
    assert!(err.contains("are available on this machine"), "{err}");
    // The --memory limit of the CLI is the same check.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medida"))
        .args(["run", "ks-case01", "--memory", "1M", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && stderr.contains("the --memory limit"),
        "{stderr}"
    );
}

/// Settings that make the experiment meaningless are refused, naming the key and why.
#[test]
fn meaningless_settings_are_refused_with_the_key_and_the_reason() {
    for (text, key, why) in [
        (
            "[observations]\nnoise = 1.5\n",
            "observations.noise",
            "nothing can be learned",
        ),
        (
            "[observations]\noperator = { random = 20 }\nnoise = 0.01\n",
            "observations.operator",
            "too few to tell 24 terms apart",
        ),
        (
            "[truth]\nduration = 0.05\n[observations]\npairs = 10\n",
            "truth.duration",
            "less than the 1.000e-2 a pair spans",
        ),
        (
            "[system]\nkind = \"qg\"\n[truth]\nspacing = 0.01\n",
            "truth.spacing",
            "the pairs would overlap",
        ),
        (
            "[truth]\nduration = 1e308\n",
            "truth.duration",
            "more than the 1e8 medida integrates in one run",
        ),
        (
            "[system]\npoints = 16\n[library]\nmax_derivative = 8\n",
            "library.max_derivative",
            "too high for a grid of 16 points",
        ),
    ] {
        let err = match Case::from_toml(text) {
            Ok(case) => medida::run(&case, &|_| {})
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key) && err.contains(why), "{key}: {err}");
    }
}

/// Same case, same seed: bit-identical JSON reports on 1 and 2 threads, with ensemble filters
/// (KS: ETKF; QG on a 48 × 96 grid: LETKF), timings aside.
#[test]
fn the_same_seed_gives_the_same_report_on_one_and_two_threads() {
    use medida::output::report::Report;
    for text in [
        "[model]\nrhs = { \"u_xx\" = -1, \"u_xxxx\" = -1 }\ndt = 2e-2\n[truth]\nduration = 6.0\n\
         [observations]\npairs = 3\nnoise = 0.01\n[assimilation]\nmethod = \"etkf\"\nmembers = 20\nperturbation = 0.013\n",
        "[system]\nkind = \"qg\"\nnx = 48\nny = 96\n[library]\nedge_cut = 10\n[model]\nrelaxation = 0.11\nforcing = 0.11\n[observations]\npairs = 1\nnoise = 0.001\n\
         [assimilation]\nmethod = \"letkf\"\nmembers = 10\nperturbation = 0.01\nlocalization = 2.0\n",
    ] {
        let case = Case::from_toml(text).unwrap();
        let report = |threads: usize| -> String {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let d = pool.install(|| medida::run(&case, &|_| {}).unwrap());
            let mut value = serde_json::to_value(Report::from_discovery(&d)).unwrap();
            value.as_object_mut().unwrap().remove("seconds");
            serde_json::to_string(&value).unwrap()
        };
        assert_eq!(report(1), report(2), "{text}");
    }
}

/// A clean run carries no warning; the same run with weak diagnostics carries one for each.
#[test]
fn weak_diagnostics_become_warnings() {
    use medida::pipeline::discovery::warnings;
    use medida::regression::resample::HeldOut;
    let case = Case::from_toml(
        "[model]\nrhs = { \"u_xx\" = -1, \"u_xxxx\" = -1 }\n[observations]\npairs = 3\nnoise = 0.0\n",
    )
    .unwrap();
    let mut d = medida::run(&case, &|_| {}).unwrap();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(warnings(&d, Some(1e-6)).is_empty());
    let c = &mut d.components[0];
    c.fit.converged = false;
    c.stability.held_out = Some(HeldOut {
        explained: 0.04,
        gain_z: Some(5.0),
    });
    let skill = d.skill.as_mut().unwrap();
    *skill.corrected_error.last_mut().unwrap() = 2.0 * skill.imperfect_error.last().unwrap();
    let found = warnings(&d, Some(0.02));
    let expected = [
        "the RVM did not converge",
        "explain only 4.0 % of the increment on held-out pairs",
        "the refinement had not settled",
        "forecasts worse than the imperfect one",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (w, e) in found.iter().zip(expected) {
        assert!(w.contains(e), "{w}");
    }
}

/// Found by `fit_on_random_npz_files_exits_cleanly`: `X` and `y` of different lengths made
/// `medida fit` panic in the row blocks.
#[test]
fn fit_with_rows_that_do_not_match_is_an_error() {
    let dir = scratch("rows");
    let data = dir.join("m.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&data).unwrap());
    write(
        &mut npz,
        "X",
        &RandomArray::I32(vec![1, 3], vec![0, 7, 375]),
    );
    write(
        &mut npz,
        "y",
        &RandomArray::I32(vec![33, 1], (0..33).collect()),
    );
    npz.finish().unwrap();
    let names = dir.join("labels.txt");
    std::fs::write(&names, "a\nb\nc\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medida"))
        .args([
            "fit",
            data.to_str().unwrap(),
            "--labels-file",
            names.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("X has 1 rows but y has 33 values"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}
