//! The `medida` command line: `run`, `cases`, `fit` (interfaces.md).

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use medida::case::Regression;
use medida::npz::{read_labels, read_matrix, read_vector};
use medida::output::report::{summary, Report};
use medida::regression::equation::Equation;
use medida::regression::resample::{Blocks, FOLDS, RESAMPLES};
use medida::regression::rvm::RvmSettings;
use medida::regression::sweep::{select, PruneAlpha};
use medida::{Case, MedidaError};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "medida",
    version,
    about = "Model-error discovery: the closed-form terms an imperfect model is missing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run discoveries from case files (or built-in case names, see `medida cases`); several
    /// cases run in one process (sharing truth runs) and end with a table and the total time.
    Run {
        #[arg(required = true)]
        cases: Vec<String>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write PNG and SVG figures into this folder.
        #[arg(long)]
        plots: Option<PathBuf>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
        /// Refuse runs planned to need more memory than this (e.g. 4G; default: what the
        /// machine has available).
        #[arg(long)]
        memory: Option<String>,
    },
    /// List the built-in cases in data/.
    Cases,
    /// Write the observations a twin experiment makes (noise added, NaN where no sensor is)
    /// as an observation file: rerun it with `[observations] file = ...` and no [truth].
    Simulate {
        case: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        quiet: bool,
        /// As for `run`.
        #[arg(long)]
        memory: Option<String>,
    },
    /// The regression alone on a matrix from an .npz file.
    Fit {
        data: PathBuf,
        #[arg(long, default_value = "X")]
        x: String,
        #[arg(long, default_value = "y")]
        y: String,
        #[arg(long, default_value = "labels")]
        labels: String,
        /// A text file with one label per line (instead of an array in the .npz).
        #[arg(long)]
        labels_file: Option<PathBuf>,
        /// "auto" (the knee of the threshold sweep) or a dimensionless threshold: a term is
        /// pruned when its contribution falls below std(y)/sqrt(prune_alpha).
        #[arg(long, default_value = "auto")]
        prune_alpha: String,
        #[arg(long, default_value = "rvm")]
        method: String,
        /// Seed of the bootstrap behind the inclusion frequencies.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Built-in case files: every `.toml` under data/, by file stem.
fn builtin_cases() -> Vec<(String, PathBuf)> {
    let mut cases = Vec::new();
    let mut stack = vec![data_dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                let stem = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                cases.push((stem, path));
            }
        }
    }
    cases.sort();
    cases
}

fn resolve_case(name: &str) -> Result<PathBuf, MedidaError> {
    let path = PathBuf::from(name);
    if path.exists() {
        return Ok(path);
    }
    builtin_cases()
        .into_iter()
        .find(|(stem, _)| stem == name)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            MedidaError::Config(format!(
                "`{name}` is neither a file nor a built-in case (see `medida cases`)"
            ))
        })
}

/// One case, or several in a row with a closing table; `--json` needs a single case and
/// `--plots DIR` gets one sub-folder per case when there are several.
fn run_many(
    cases: &[String],
    json: Option<PathBuf>,
    plots: Option<PathBuf>,
    quiet: bool,
) -> Result<(), MedidaError> {
    if cases.len() == 1 {
        return run(&cases[0], json, plots, quiet).map(|_| ());
    }
    if json.is_some() {
        return Err(MedidaError::Config(
            "`--json` takes one case; run the cases one by one to get one report each".into(),
        ));
    }
    let clock = std::time::Instant::now();
    let mut rows = Vec::new();
    for case in cases {
        let started = std::time::Instant::now();
        let dir = plots.as_ref().map(|d| {
            d.join(
                Path::new(case)
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string(),
            )
        });
        let outcome = run(case, None, dir, quiet)?;
        rows.push((case.clone(), outcome, started.elapsed().as_secs_f64()));
        println!();
    }
    println!(
        "{:<40} {:>8} {:>12} {:>9}",
        "case", "terms", "worst error", "seconds"
    );
    for (case, outcome, seconds) in &rows {
        let name = Path::new(case)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let (terms, worst) = match outcome {
            Some((ok, worst)) => (
                if *ok { "exact" } else { "DIFFER" },
                format!("{:.3} %", 100.0 * worst),
            ),
            None => ("-", "-".into()),
        };
        println!("{name:<40} {terms:>8} {worst:>12} {seconds:>9.2}");
    }
    println!(
        "{} cases in {:.1} s",
        rows.len(),
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one case, any system; for cases with a known truth, returns (found exactly the
/// expected terms, worst relative coefficient error).
fn run(
    case: &str,
    json: Option<PathBuf>,
    plots: Option<PathBuf>,
    quiet: bool,
) -> Result<Option<(bool, f64)>, MedidaError> {
    let path = resolve_case(case)?;
    let case = Case::from_file(&path)?;
    let bar = progress_bar(quiet);
    let progress = |stage: &str| bar.set_message(stage.to_string());
    let result = medida::run(&case, &progress)
        .map_err(|e| MedidaError::Config(format!("{}: {e}", path.display())));
    bar.finish_and_clear();
    let discovery = result?;
    print!("{}", summary(&discovery));
    if let Some(dir) = plots {
        for p in medida::output::plots::discovery_figures(&dir, &discovery)? {
            if !quiet {
                println!("wrote {}", p.display());
            }
        }
    }
    if let Some(json) = json {
        Report::from_discovery(&discovery).write(&json)?;
    }
    Ok(discovery.outcome())
}

/// `--memory SIZE`: the budget every run of this process is checked against.
fn set_memory(memory: Option<String>) -> Result<(), MedidaError> {
    if let Some(text) = memory {
        let bytes = medida::memory::parse_size(&text).ok_or_else(|| {
            MedidaError::Config(format!(
                "--memory `{text}`: a size such as 512M, 4G or a number of bytes"
            ))
        })?;
        medida::memory::set_limit(bytes);
    }
    Ok(())
}

fn simulate_command(case: &str, out: &Path, quiet: bool) -> Result<(), MedidaError> {
    let path = resolve_case(case)?;
    let case = Case::from_file(&path)?;
    let bar = progress_bar(quiet);
    let progress = |stage: &str| bar.set_message(stage.to_string());
    let result = medida::simulate(&case, out, &progress)
        .map_err(|e| MedidaError::Config(format!("{}: {e}", path.display())));
    bar.finish_and_clear();
    let snapshots = result?;
    println!(
        "wrote {} snapshots of {} to {} (rerun with [observations] file = \"{}\" and no [truth] section)",
        snapshots,
        case.name,
        out.display(),
        out.display()
    );
    Ok(())
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

#[allow(clippy::too_many_arguments)] // one argument per CLI flag
fn fit_command(
    data: &Path,
    x: &str,
    y: &str,
    labels: &str,
    labels_file: Option<PathBuf>,
    prune_alpha: &str,
    method: &str,
    seed: u64,
    json: Option<PathBuf>,
) -> Result<(), MedidaError> {
    let choice = match prune_alpha {
        "auto" => PruneAlpha::Auto,
        number => match number.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => PruneAlpha::Fixed(v),
            _ => {
                return Err(MedidaError::Config(format!(
                    "--prune-alpha `{number}`: expected \"auto\" or a positive number"
                )))
            }
        },
    };
    let matrix = read_matrix(data, x)?;
    let target = read_vector(data, y)?;
    let names = match labels_file {
        Some(file) => std::fs::read_to_string(&file)
            .map_err(|e| MedidaError::io(&file, e))?
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        None => read_labels(data, labels)?,
    };
    if matrix.nrows() != target.len() {
        return Err(MedidaError::Data(format!(
            "{}: `{x}` has {} rows but `{y}` has {} values; they must match row for row",
            data.display(),
            matrix.nrows(),
            target.len()
        )));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(MedidaError::Data(format!(
                "{}: label `{name}` names two columns; every column needs its own term",
                data.display()
            )));
        }
    }
    if names.len() != matrix.ncols() {
        return Err(MedidaError::Data(format!(
            "{} labels for {} columns of `{x}`",
            names.len(),
            matrix.ncols()
        )));
    }
    let blocks = Blocks::of_rows(names, matrix.view(), target.view(), 1)?;
    let settings = RvmSettings {
        method: method.parse()?,
        ..RvmSettings::default()
    };
    let selection = select(&blocks, &settings, choice, Regression::default().knee, seed)?;
    let stability = &selection.stability;
    let result = &selection.fit;
    match &selection.unsupported {
        Some(why) => println!("{why}"),
        None => println!("{}", Equation::from_fit("y", result)),
    }
    if !result.retained.is_empty() {
        println!("\n  term           coefficient      ± std   inclusion");
        for &i in &result.retained {
            println!(
                "  {:<14} {:>11.5} {:>10.1e}   {}",
                result.names[i],
                result.coefficients[i],
                result.std[i],
                stability
                    .inclusion
                    .as_ref()
                    .map_or("-".into(), |f| format!("{:.0} %", 100.0 * f[i]))
            );
        }
        println!();
    }
    println!(
        "{} rows, {} columns, {} retained (prune_alpha {:.0e}{}); noise std {:.3e}; {} after {} iterations",
        result.rows,
        result.names.len(),
        result.retained.len(),
        selection.prune_alpha,
        if choice == PruneAlpha::Auto { ", automatic" } else { "" },
        result.noise_std(),
        if result.converged {
            "converged"
        } else {
            "NOT converged"
        },
        result.iterations
    );
    if let Some(h) = stability.held_out {
        println!(
            "held-out: {:.2} % of the target explained on unseen row blocks, gain {} ({}-fold over {} blocks); inclusion over {RESAMPLES} bootstrap resamples of the blocks",
            100.0 * h.explained,
            medida::regression::resample::gain_text(h.gain_z),
            FOLDS.min(blocks.len()),
            blocks.len()
        );
    }
    for d in &result.dropped {
        println!("dropped `{}`: {}", d.name, d.reason);
    }
    if let Some(json) = json {
        let name = data.file_stem().unwrap_or_default().to_string_lossy();
        Report::from_fit(
            &name,
            result,
            selection.prune_alpha,
            stability,
            selection.unsupported.as_ref(),
        )
        .write(&json)?;
    }
    Ok(())
}

fn main() {
    medida::memory::retain_freed_memory();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            cases,
            json,
            plots,
            quiet,
            memory,
        } => set_memory(memory).and_then(|_| run_many(&cases, json, plots, quiet)),
        Command::Simulate {
            case,
            out,
            quiet,
            memory,
        } => set_memory(memory).and_then(|_| simulate_command(&case, &out, quiet)),
        Command::Cases => {
            for (name, path) in builtin_cases() {
                let rel = path
                    .strip_prefix(data_dir())
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                println!("{name:<28} data/{rel}");
            }
            Ok(())
        }
        Command::Fit {
            data,
            x,
            y,
            labels,
            labels_file,
            prune_alpha,
            method,
            seed,
            json,
        } => fit_command(
            &data,
            &x,
            &y,
            &labels,
            labels_file,
            &prune_alpha,
            &method,
            seed,
            json,
        ),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
