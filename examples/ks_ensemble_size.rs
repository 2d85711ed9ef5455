//! The paper's path: the isolated-pair stochastic EnKF (`assimilation.method = "enkf"`) on
//! case 1 at 1 % noise, its accuracy against ensemble size (100, 1,000, 10,240 members),
//! next to projection alone (`method = "none"`) and the authors' measured numbers
//! (100: fails; 1,000: 4–14 % and two spurious terms; 10,240: 2.5 % in 360 s).
//!
//!     cargo run --release --example ks_ensemble_size -- [OUT_DIR] [--pairs N]

mod common;

use medida::output::plots::{save_figure, Lines};
use medida::{run, Case};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    medida::memory::retain_freed_memory();
    let args = common::arguments();
    let out = common::out_dir(&args, "out/ks-ensemble-size");
    let pairs: usize = common::option(&args, "--pairs")?.unwrap_or(20);
    // The paper's setting: model step 5e-3, initial perturbations 0.25, no inflation.
    let base = format!(
        "name = \"ks-case01-enkf\"\nseed = 7\n[model]\nrhs = {{ \"u_xx\" = -1, \"u_xxxx\" = -1 }}\ndt = 5e-3\n[observations]\npairs = {pairs}\nnoise = 0.01\n"
    );
    println!("case 1, 1 % noise, {pairs} pairs, model dt = 5e-3\n");
    println!(
        "{:<28} {:>12} {:>10} {:>9}  discovered",
        "assimilation", "u*u_x error", "spurious", "seconds"
    );
    let mut members_axis = Vec::new();
    let mut errors = Vec::new();
    for (method, members) in [("none", 0), ("enkf", 100), ("enkf", 1000), ("enkf", 10240)] {
        let text = if method == "none" {
            base.clone()
        } else {
            format!("{base}[assimilation]\nmethod = \"enkf\"\nmembers = {members}\nperturbation = 0.25\n")
        };
        let case = Case::from_toml(&text)?;
        let clock = Instant::now();
        let d = run(&case, &|_| {})?;
        let d = &d.components[0];
        let seconds = clock.elapsed().as_secs_f64();
        let i = d
            .fit
            .names
            .iter()
            .position(|n| n == "u*u_x")
            .expect("u*u_x in the library");
        let found = d.fit.retained.contains(&i);
        let error = if found {
            (d.fit.coefficients[i] + 1.0).abs()
        } else {
            1.0
        };
        let spurious = d.fit.retained.len() - usize::from(found);
        let label = if method == "none" {
            "none (projection only)".to_string()
        } else {
            format!("enkf, {members} members")
        };
        println!(
            "{label:<28} {:>11.1}% {spurious:>10} {seconds:>9.1}  {}",
            100.0 * error,
            d.equation
        );
        if members > 0 {
            members_axis.push((members as f64).log10());
            errors.push(100.0 * error);
        }
    }
    let published_x = vec![2.0, 3.0, 10240f64.log10()];
    let published = vec![100.0, 9.0, 2.5];
    for path in save_figure(
        &out,
        "enkf_error_vs_members",
        &Lines {
            title: "isolated-pair EnKF, case 1, 1 % noise: error of the u*u_x coefficient".into(),
            x_label: "log10 members".into(),
            y_label: "relative error (%)".into(),
            series: vec![
                ("medida".into(), &members_axis, &errors),
                (
                    "authors (measured; 1,000: 4–14 %)".into(),
                    &published_x,
                    &published,
                ),
            ],
            log_y: true,
        },
    )? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
