//! Observations from files: the round trip `medida simulate` → file → run against the twin
//! run, data made by an independent integrator (RK4 on the Fourier modes, written here),
//! sparse data with gaps, the noise estimator at known noise levels, and bad files.

use medida::case::Case;
use medida::observe::file::{estimate_noise, read, NpzFile};
use medida::{run, simulate};
use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;
use num_complex::Complex64;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medida-files-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The case text with its [truth] replaced by `[observations] file` (pairs = 0: all of them).
fn file_case(text: &str, file: &Path) -> String {
    let mut table: toml::Table = text.parse().unwrap();
    table.remove("truth");
    let observations = table
        .entry("observations")
        .or_insert(toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    observations.insert("file".into(), file.display().to_string().into());
    observations.insert("pairs".into(), 0.into());
    observations.remove("operator");
    observations.remove("fraction");
    toml::to_string(&table).unwrap()
}

fn terms(d: &medida::Discovery) -> Vec<(usize, String, f64)> {
    d.components
        .iter()
        .enumerate()
        .flat_map(|(c, k)| {
            k.fit
                .retained
                .iter()
                .map(move |&i| (c, k.fit.names[i].clone(), k.fit.coefficients[i]))
        })
        .collect()
}

#[test]
fn simulate_then_run_from_the_file_gives_the_twin_run() {
    for name in [
        "ks/ks-case01",
        "ks/ks-case10-noise1",
        "qg/qg-case1001",
        "qg/qg-case1002-sparse50",
    ] {
        let path = root().join(format!("data/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let twin = Case::from_toml(&text).unwrap();
        let dir = scratch(name.split('/').next_back().unwrap());
        let file = dir.join("obs.npz");
        simulate(&twin, &file, &|_| {}).unwrap();
        let from_file = Case::from_toml(&file_case(&text, &file)).unwrap();
        let (a, b) = (
            run(&twin, &|_| {}).unwrap(),
            run(&from_file, &|_| {}).unwrap(),
        );
        assert_eq!(a.pairs, b.pairs, "{name}");
        let (ta, tb) = (terms(&a), terms(&b));
        assert_eq!(
            ta.iter().map(|t| (t.0, &t.1)).collect::<Vec<_>>(),
            tb.iter().map(|t| (t.0, &t.1)).collect::<Vec<_>>(),
            "{name}"
        );
        for (x, y) in ta.iter().zip(&tb) {
            assert!(
                (x.2 - y.2).abs() <= 1e-9 * x.2.abs(),
                "{name} {}: twin {} vs file {}",
                x.1,
                x.2,
                y.2
            );
        }
        assert!(b.components.iter().all(|c| c.expected.is_empty()));
        std::fs::remove_dir_all(dir).ok();
    }
}

/// KS u_t = −u u_x − u_xx − u_xxxx on [−L/2, L/2) with N points, by classical RK4 on the
/// real-FFT Fourier modes with the 2/3 rule: independent of medida's solvers.
struct Rk4Ks {
    n: usize,
    k: Vec<f64>,
    forward: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    inverse: std::sync::Arc<dyn realfft::ComplexToReal<f64>>,
}

impl Rk4Ks {
    fn new(n: usize, length: f64) -> Self {
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        Rk4Ks {
            n,
            k: (0..=n / 2)
                .map(|j| 2.0 * std::f64::consts::PI * j as f64 / length)
                .collect(),
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        }
    }

    fn spectrum(&self, u: &[f64]) -> Vec<Complex64> {
        let mut input = u.to_vec();
        let mut out = self.forward.make_output_vec();
        self.forward.process(&mut input, &mut out).unwrap();
        out
    }

    fn physical(&self, v: &[Complex64]) -> Vec<f64> {
        let mut input = v.to_vec();
        input[0].im = 0.0;
        input[self.n / 2].im = 0.0;
        let mut out = self.inverse.make_output_vec();
        self.inverse.process(&mut input, &mut out).unwrap();
        out.iter().map(|x| x / self.n as f64).collect()
    }

    fn rhs(&self, v: &[Complex64]) -> Vec<Complex64> {
        let u = self.physical(v);
        let square: Vec<f64> = u.iter().map(|x| x * x).collect();
        let u2 = self.spectrum(&square);
        let cut = self.n / 3;
        (0..v.len())
            .map(|j| {
                let k = self.k[j];
                let nonlinear = if j < cut {
                    -0.5 * Complex64::new(0.0, k) * u2[j]
                } else {
                    Complex64::new(0.0, 0.0)
                };
                nonlinear + (k * k - k.powi(4)) * v[j]
            })
            .collect()
    }

    fn step(&self, v: &mut [Complex64], dt: f64) {
        let add = |a: &[Complex64], b: &[Complex64], h: f64| -> Vec<Complex64> {
            a.iter().zip(b).map(|(x, y)| x + h * y).collect()
        };
        let k1 = self.rhs(v);
        let k2 = self.rhs(&add(v, &k1, dt / 2.0));
        let k3 = self.rhs(&add(v, &k2, dt / 2.0));
        let k4 = self.rhs(&add(v, &k3, dt));
        for j in 0..v.len() {
            v[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
    }
}

/// Pairs (t − dt, t, t + dt) every `spacing` after a spin-up, with relative noise and a
/// fraction of NaN at random (different points each time).
fn independent_observations(
    path: &Path,
    pairs: usize,
    noise: f64,
    missing: f64,
    seed: u64,
    model_dt: f64,
) {
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;
    let (n, length, h): (usize, f64, f64) = (POINTS, 100.0, 1e-4);
    let ks = Rk4Ks::new(n, length);
    let x: Vec<f64> = (0..n)
        .map(|j| -length / 2.0 + length * j as f64 / n as f64)
        .collect();
    let initial: Vec<f64> = x
        .iter()
        .map(|&x| {
            let a = 2.0 * std::f64::consts::PI * x / length;
            -a.cos() * (1.0 + (-a).sin())
        })
        .collect();
    let mut u = ks.spectrum(&initial);
    let per = (model_dt / h).round() as usize;
    let spinup = (40.0 / h) as usize;
    let spacing = (0.5 / h) as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut times, mut rows) = (Vec::new(), Vec::new());
    let mut step = 0usize;
    for p in 0..pairs {
        let first = spinup + p * spacing;
        for level in 0..3 {
            while step < first + level * per {
                ks.step(&mut u, h);
                step += 1;
            }
            let mut field = ks.physical(&u);
            let mean = field.iter().sum::<f64>() / n as f64;
            let std = (field.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
            for v in field.iter_mut() {
                *v += noise * std * rng.sample::<f64, _>(StandardNormal);
                if rng.gen::<f64>() < missing {
                    *v = f64::NAN;
                }
            }
            times.push(step as f64 * h);
            rows.extend(field);
        }
    }
    let mut npz = NpzWriter::new(std::fs::File::create(path).unwrap());
    npz.add_array("t", &Array1::from(times.clone())).unwrap();
    npz.add_array(
        "u",
        &Array2::from_shape_vec((times.len(), n), rows).unwrap(),
    )
    .unwrap();
    npz.add_array("x", &Array1::from(x)).unwrap();
    npz.finish().unwrap();
}

/// Grid of the independent truth: RK4 at h = 1e-4 is stable up to |k|⁴h ≈ 2.8.
const POINTS: usize = 256;

fn case_one(file: &Path, noise: &str, dt: f64) -> Case {
    Case::from_toml(&format!(
        "name = \"rk4-case01\"\n[system]\npoints = {POINTS}\n[model]\nrhs = {{ \"u_xx\" = -1, \"u_xxxx\" = -1 }}\ndt = {dt}\n\
         [observations]\nfile = \"{}\"\nnoise = {noise}\npairs = 0\n",
        file.display()
    ))
    .unwrap()
}

fn advection(d: &medida::Discovery) -> f64 {
    let fit = &d.components[0].fit;
    let names: Vec<&String> = fit.retained.iter().map(|&i| &fit.names[i]).collect();
    assert_eq!(names, vec!["u*u_x"], "{}", d.components[0].equation);
    fit.coefficients[fit.retained[0]]
}

#[test]
fn data_from_an_independent_rk4_solver_give_the_missing_term_of_case_1() {
    let dir = scratch("rk4");
    let exact = dir.join("exact.npz");
    independent_observations(&exact, 20, 0.0, 0.0, 1, 5e-3);
    let c = advection(&run(&case_one(&exact, "0.0", 5e-3), &|_| {}).unwrap());
    println!("independent RK4 data, noise-free: {c}");
    assert!((c + 1.0).abs() < 0.005, "noise-free: {c}");
    let noisy = dir.join("noisy.npz");
    independent_observations(&noisy, 100, 0.01, 0.0, 2, 2e-2);
    let d = run(&case_one(&noisy, "\"auto\"", 2e-2), &|_| {}).unwrap();
    let estimate = d.file.as_ref().unwrap().noise_estimate.unwrap();
    assert!(
        (estimate / 0.01 - 1.0).abs() < 0.2,
        "noise estimate {estimate}"
    );
    let c = advection(&d);
    println!("independent RK4 data, 1 % noise (estimated {estimate}): {c}");
    assert!((c + 1.0).abs() < 0.05, "1 % noise: {c}");
    // Sparse: 25 % of the values missing at random, different points at different times.
    let sparse = dir.join("sparse.npz");
    independent_observations(&sparse, 20, 0.0, 0.25, 3, 5e-3);
    let d = run(&case_one(&sparse, "0.0", 5e-3), &|_| {}).unwrap();
    let c = advection(&d);
    println!("independent RK4 data, 25 % missing: {c}");
    assert!((c + 1.0).abs() < 0.05, "25 % missing: {c}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_noise_estimate_is_within_20_percent_of_the_noise_added() {
    let dir = scratch("noise");
    for (kind, text) in [
        (
            "ks",
            "[truth]\nduration = 20.0\n[observations]\npairs = 5\n",
        ),
        ("qg", "[system]\nkind = \"qg\"\n[observations]\npairs = 2\n"),
    ] {
        for noise in [0.001, 0.01, 0.05] {
            let case = Case::from_toml(&format!("{text}noise = {noise}\n")).unwrap();
            let file = dir.join(format!("{kind}-{noise}.npz"));
            simulate(&case, &file, &|_| {}).unwrap();
            let (_, shape) = case.system.fields();
            let levels = if kind == "ks" { 2 } else { 1 };
            let data = read(
                &NpzFile(&file),
                &case.system,
                medida::observe::file::PairLayout {
                    levels,
                    history: 0,
                    window: 1,
                },
                0,
                0,
                &|_| Ok(()),
            )
            .unwrap();
            let estimate = estimate_noise(&data, *shape.last().unwrap()).unwrap();
            assert!(
                (estimate / noise - 1.0).abs() < 0.2,
                "{kind} at {noise}: estimated {estimate}"
            );
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// A small KS file: `t` and `u` (n × 64), edited by `edit` before writing.
fn bad_file(
    dir: &Path,
    name: &str,
    edit: impl Fn(&mut Vec<f64>, &mut Array2<f64>) -> Vec<(&'static str, Vec<f64>)>,
) -> PathBuf {
    let dt = 5e-3;
    let mut t: Vec<f64> = (0..6).map(|i| 10.0 + i as f64 * dt).collect();
    let mut u = Array2::from_shape_fn((6, 64), |(i, j)| ((j as f64) * 0.1 + i as f64 * 0.01).sin());
    let extra = edit(&mut t, &mut u);
    let path = dir.join(format!("{name}.npz"));
    let mut npz = NpzWriter::new(std::fs::File::create(&path).unwrap());
    npz.add_array("t", &Array1::from(t)).unwrap();
    if !extra.iter().any(|(n, _)| *n == "no-u") {
        npz.add_array("u", &u).unwrap();
    }
    for (name, values) in extra {
        if name != "no-u" {
            npz.add_array(name, &Array1::from(values)).unwrap();
        }
    }
    npz.finish().unwrap();
    path
}

#[test]
fn bad_observation_files_are_errors_naming_the_file_array_and_problem() {
    let dir = scratch("bad");
    let case = |file: &Path| {
        Case::from_toml(&format!(
            "[system]\npoints = 64\n[observations]\nfile = \"{}\"\nnoise = 0.0\npairs = 0\n",
            file.display()
        ))
        .unwrap()
    };
    let grid: Vec<f64> = (0..64).map(|j| -50.0 + 100.0 * j as f64 / 64.0).collect();
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            bad_file(&dir, "missing", |_, _| vec![("no-u", vec![])]),
            "no array `u`",
        ),
        (
            bad_file(&dir, "shape", |_, u| {
                *u = Array2::zeros((6, 32));
                vec![]
            }),
            "`u` has shape [6, 32]",
        ),
        (
            bad_file(&dir, "x", |_, _| {
                let mut x = grid.clone();
                x[3] += 0.5;
                vec![("x", x)]
            }),
            "`x` disagrees with the [system] grid",
        ),
        (
            bad_file(&dir, "order", |t, _| {
                t.swap(2, 3);
                vec![]
            }),
            "`t` is not strictly increasing",
        ),
        (
            bad_file(&dir, "spacing", |t, _| {
                for (i, v) in t.iter_mut().enumerate() {
                    *v = i as f64 * 0.1;
                }
                vec![]
            }),
            "no pair at the model's step dt = 0.005",
        ),
        (
            bad_file(&dir, "inf", |_, u| {
                u[[1, 7]] = f64::INFINITY;
                vec![]
            }),
            "±inf at snapshot 1",
        ),
        (
            bad_file(&dir, "empty", |_, u| {
                u.row_mut(2).fill(f64::NAN);
                vec![]
            }),
            "snapshot 2 (t = 10.01) of `u` has no observed point",
        ),
    ];
    for (file, wanted) in cases {
        let err = match run(&case(&file), &|_| {}) {
            Ok(_) => panic!("{}: expected an error", file.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(wanted) && err.contains(&file.display().to_string()),
            "{wanted}: {err}"
        );
    }
    // The spacing error lists the spacings the file has.
    let err = run(&case(&dir.join("spacing.npz")), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("1.000000e-1 (5×)"), "{err}");
    // A [truth] section with a file.
    let err = Case::from_toml("[truth]\nduration = 5.0\n[observations]\nfile = \"a.npz\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`[truth]` and `observations.file`"), "{err}");
    // A missing file.
    let err = run(&case(&dir.join("nowhere.npz")), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such observation file"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_shipped_example_file_runs() {
    let case = Case::from_file(&root().join("data/files/ks-case01-file.toml")).unwrap();
    let d = run(&case, &|_| {}).unwrap();
    let c = advection(&d);
    assert!((c + 1.0).abs() < 0.01, "{c}");
    assert!(!d.file.as_ref().unwrap().times.is_empty());
}

/// A float32 file gives the float64 file's answer to float32 precision.
#[test]
fn float32_files_are_read() {
    use medida::npz::read_matrix;
    let dir = scratch("f32");
    let source = root().join("data/files/ks-case01-noise1.npz");
    let file = dir.join("ks-case01-noise1.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&file).unwrap());
    let t = read_matrix(&source, "t").unwrap().column(0).to_owned();
    npz.add_array("t", &t).unwrap();
    npz.add_array("u", &read_matrix(&source, "u").unwrap().mapv(|v| v as f32))
        .unwrap();
    npz.finish().unwrap();
    let text = std::fs::read_to_string(root().join("data/files/ks-case01-file.toml")).unwrap();
    std::fs::write(dir.join("case.toml"), text).unwrap();
    let single =
        advection(&run(&Case::from_file(&dir.join("case.toml")).unwrap(), &|_| {}).unwrap());
    let double = advection(
        &run(
            &Case::from_file(&root().join("data/files/ks-case01-file.toml")).unwrap(),
            &|_| {},
        )
        .unwrap(),
    );
    assert!((single - double).abs() < 1e-4, "{single} vs {double}");
    std::fs::remove_dir_all(dir).ok();
}
