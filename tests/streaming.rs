//! Streamed pairs (made again on every pass, memory flat in their number) give the report
//! holding them gives.

use medida::case::Threshold;
use medida::output::report::Report;
use medida::{run, Case};
use serde_json::Value;
use std::path::Path;

fn case(name: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/ks")
        .join(format!("{name}.toml"));
    Case::from_file(&path).unwrap()
}

/// Every number of `a` within `tolerance` of the same number of `b` (relative to the larger
/// magnitude, absolute below 1), everything else equal, timings skipped; returns the count
/// of numbers compared.
fn same(a: &Value, b: &Value, path: &str, tolerance: f64) -> usize {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<&String> = x.keys().collect();
            assert_eq!(keys, y.keys().collect::<Vec<_>>(), "keys of {path}");
            x.iter()
                .filter(|(k, _)| {
                    !k.contains("seconds") && k.as_str() != "timings" && k.as_str() != "streamed"
                })
                .map(|(k, v)| same(v, &y[k], &format!("{path}.{k}"), tolerance))
                .sum()
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "length of {path}");
            x.iter()
                .zip(y)
                .enumerate()
                .map(|(i, (v, w))| same(v, w, &format!("{path}[{i}]"), tolerance))
                .sum()
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let scale = x.abs().max(y.abs()).max(1.0);
            assert!(
                (x - y).abs() <= tolerance * scale,
                "{path}: {x} streamed, {y} held"
            );
            1
        }
        _ => {
            assert_eq!(a, b, "{path}");
            0
        }
    }
}

fn report(mut case: Case, streaming: Threshold) -> Value {
    case.observations.streaming = Some(streaming);
    let discovery = run(&case, &|_| {}).unwrap();
    serde_json::from_str(&Report::from_discovery(&discovery).to_json()).unwrap()
}

#[test]
fn a_noisy_ks_case_streamed_gives_the_report_of_its_pairs_held() {
    // 1 % noise: the window is chosen, then selection, Gauss–Newton and the selection on the
    // residual walk the pairs many times.
    let c = case("ks-case07-noise1");
    // 100 pairs, 32 at a time: the truth resumed from checkpoints at every range.
    let streamed = report(c.clone(), Threshold::Fixed(32.0));
    let held = report(c, Threshold::Named("never".into()));
    let numbers = same(&streamed, &held, "report", 1e-12);
    assert!(numbers > 20, "{numbers} numbers compared");
    assert_eq!(streamed["observations"]["streamed"], 32);
    assert!(held["observations"]["streamed"].is_null());
    assert!(
        streamed["observations"]["window_steps"].as_u64().unwrap() > 1,
        "a window was chosen"
    );
}

#[test]
fn streaming_is_auto_always_or_never() {
    let mut c = case("ks-case01");
    c.observations.streaming = Some(Threshold::Named("sometimes".into()));
    let e = run(&c, &|_| {}).unwrap_err().to_string();
    assert!(
        e.contains("observations.streaming") && e.contains("sometimes"),
        "{e}"
    );
}
