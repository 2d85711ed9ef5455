//! The `medida` command line: `run`, `cases`, `fit` (interfaces.md).

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use medida::cases::resolve;
use medida::npz::{read_labels, read_matrix, read_vector};
use medida::output::report::{summary, Report};
use medida::regression::fit_matrix;
use medida::MedidaError;
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
    let label = case;
    let case = resolve(case)?;
    let bar = progress_bar(quiet);
    let progress = |stage: &str| bar.set_message(stage.to_string());
    let result =
        medida::run(&case, &progress).map_err(|e| MedidaError::Config(format!("{label}: {e}")));
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
    let label = case;
    let case = resolve(case)?;
    let bar = progress_bar(quiet);
    let progress = |stage: &str| bar.set_message(stage.to_string());
    let result = medida::simulate(&case, out, &progress)
        .map_err(|e| MedidaError::Config(format!("{label}: {e}")));
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
    let choice = medida::regression::parse_prune_alpha(prune_alpha)
        .map_err(|e| MedidaError::Config(format!("--{e}")))?;
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
    let source = format!("{} (`{x}`, `{y}`)", data.display());
    let fit = fit_matrix(
        &source,
        names,
        matrix.view(),
        target.view(),
        method.parse()?,
        choice,
        seed,
    )?;
    print!("{}", fit.summary("y"));
    if let Some(json) = json {
        let name = data.file_stem().unwrap_or_default().to_string_lossy();
        fit.report(&name).write(&json)?;
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
            for case in medida::cases::builtin() {
                println!("{:<28} data/{}", case.name, case.path);
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
