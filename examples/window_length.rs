//! Coefficient error and posterior std against the window between a pair's two observations
//! (`observations.interval`), for one noisy case at the paper's step: the noise of the
//! increment falls as 1/n, until the nonlinearity of the window's forecast in the coefficients
//! (and the selection on columns linearised around a wrong model) takes over. Prints the table
//! and what `interval = "auto"` chooses on the same data; draws
//! `window_length.png` / `.svg`.
//!
//!     cargo run --release --example window_length -- [OUT_DIR] [--case ks-case11-noise1]

mod common;

use medida::case::Threshold;
use medida::output::plots::{save_figure, Lines};
use medida::run;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    medida::memory::retain_freed_memory();
    let args = common::arguments();
    let out = common::out_dir(&args, "out/window-length");
    let name: String =
        common::option(&args, "--case")?.unwrap_or_else(|| "ks-case11-noise1".to_string());
    let base = medida::cases::resolve(&name)?;
    let dt = base.system.dt();
    println!(
        "{name}: model dt = {dt}, {} pairs\n",
        base.observations.pairs
    );
    println!(
        "{:>7} {:>9} {:>14} {:>14} {:>9} {:>8}",
        "window", "interval", "worst error", "largest std", "spurious", "seconds"
    );
    let (mut axis, mut errors, mut stds) = (Vec::new(), Vec::new(), Vec::new());
    for steps in [1usize, 2, 4, 8, 16, 32, 64, 128] {
        let mut case = base.clone();
        case.observations.interval = Some(Threshold::Fixed(steps as f64 * dt));
        let clock = Instant::now();
        let d = match run(&case, &|_| {}) {
            Ok(d) => d,
            Err(e) => {
                println!("{steps:>7} {:>9.3} failed: {e}", steps as f64 * dt);
                continue;
            }
        };
        let seconds = clock.elapsed().as_secs_f64();
        let (_, worst) = d.outcome().expect("a twin experiment");
        // The largest posterior std relative to its expected coefficient, over the expected
        // terms that were found.
        let mut largest: f64 = 0.0;
        let mut spurious = 0;
        for c in &d.components {
            for &j in &c.fit.retained {
                match c.expected.iter().find(|(n, _)| *n == c.fit.names[j]) {
                    Some((_, v)) => largest = largest.max(c.fit.std[j] / v.abs()),
                    None => spurious += 1,
                }
            }
        }
        println!(
            "{steps:>7} {:>9.3} {:>13.3}% {:>13.3}% {spurious:>9} {seconds:>8.1}",
            steps as f64 * dt,
            100.0 * worst,
            100.0 * largest
        );
        axis.push((steps as f64).log2());
        errors.push(100.0 * worst.max(1e-4));
        stds.push(100.0 * largest.max(1e-4));
    }
    let auto = run(&base, &|_| {})?;
    println!(
        "\ninterval = \"auto\" chooses {} steps: worst error {:.3} %",
        auto.window,
        100.0 * auto.outcome().expect("a twin experiment").1
    );
    for path in save_figure(
        &out,
        "window_length",
        &Lines {
            title: format!("{name}: coefficient error and posterior std against the window"),
            x_label: "log2 window (model steps)".into(),
            y_label: "relative to the expected coefficient (%)".into(),
            series: vec![
                ("worst coefficient error".into(), &axis, &errors),
                ("largest posterior std".into(), &axis, &stds),
            ],
            log_y: true,
        },
    )? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
