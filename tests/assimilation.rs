//! Ensemble filters against independent truth: the exact Kalman filter on linear-Gaussian
//! problems, invariances, reproducibility across thread counts, the published Lorenz-96
//! benchmarks (Sakov & Oke 2008), and bad input.

use medida::assimilation::ensemble::{anomalies, mean};
use medida::assimilation::{
    forecast, run_twin, Analysis, Draws, Etkf, Geometry, Letkf, Observation, Space, StochasticEnkf,
    TwinSettings,
};
use medida::solvers::{KsIntervalModel, KsModel, KsParams, Lorenz96, Model, SolverError};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Prior of a small linear-Gaussian problem: 6 state entries, correlated covariance.
fn prior() -> (DVector<f64>, DMatrix<f64>) {
    let mean = DVector::from_vec(vec![1.0, -0.5, 2.0, 0.3, 0.0, -1.2]);
    let covariance = DMatrix::from_fn(6, 6, |i, j| {
        let d = i.abs_diff(j) as f64;
        (1.0 + 0.2 * i as f64) * (-d / 2.0).exp() * (1.0 + 0.2 * j as f64)
    });
    (mean, covariance)
}

/// Observations of entries 4, 0 and 2 (deliberately unsorted) with unequal variances.
fn observation() -> (Observation, Vec<f64>) {
    let observation = Observation::new(6, vec![4, 0, 2], vec![0.5, 0.2, 1.5]).unwrap();
    (observation, vec![0.7, 0.4, 2.9])
}

/// Exact Kalman analysis: K = P Hᵀ (H P Hᵀ + R)⁻¹, x̄ᵃ = x̄ + K(y − H x̄), Pᵃ = (I − KH) P.
fn kalman(
    mean: &DVector<f64>,
    covariance: &DMatrix<f64>,
    observation: &Observation,
    values: &[f64],
) -> (DVector<f64>, DMatrix<f64>) {
    let n = mean.len();
    let h = DMatrix::from_fn(observation.len(), n, |k, i| {
        (observation.indices()[k] == i) as u8 as f64
    });
    let r = DMatrix::from_diagonal(&DVector::from_column_slice(observation.variance()));
    let s = &h * covariance * h.transpose() + r;
    let gain = covariance * h.transpose() * s.try_inverse().unwrap();
    let innovation = DVector::from_column_slice(values) - &h * mean;
    let analysis_mean = mean + &gain * innovation;
    let analysis_covariance = (DMatrix::identity(n, n) - &gain * h) * covariance;
    (analysis_mean, analysis_covariance)
}

/// An ensemble whose sample mean and covariance are exactly (mean, covariance): random
/// members whitened by their own sample covariance and coloured by the target's.
fn exact_ensemble(
    mean: &DVector<f64>,
    covariance: &DMatrix<f64>,
    members: usize,
    seed: u64,
) -> DMatrix<f64> {
    let n = mean.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: DMatrix<f64> = DMatrix::from_fn(n, members, |_, _| StandardNormal.sample(&mut rng));
    let z_mean = z.column_mean();
    let mut centred = z.clone();
    for mut column in centred.column_iter_mut() {
        column -= &z_mean;
    }
    let sample = &centred * centred.transpose() / (members - 1) as f64;
    let whiten = sample.cholesky().unwrap().l().try_inverse().unwrap();
    let colour = covariance.clone().cholesky().unwrap().l();
    let mut ensemble = colour * whiten * centred;
    for mut column in ensemble.column_iter_mut() {
        column += mean;
    }
    ensemble
}

fn sample_covariance(ensemble: &DMatrix<f64>) -> DMatrix<f64> {
    let a = anomalies(ensemble, &mean(ensemble));
    &a * a.transpose() / (ensemble.ncols() - 1) as f64
}

fn relative(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).norm() / b.norm()
}

#[test]
fn etkf_is_the_exact_kalman_filter_when_members_exceed_the_state_size() {
    let (prior_mean, prior_covariance) = prior();
    let (observation, values) = observation();
    let (kalman_mean, kalman_covariance) =
        kalman(&prior_mean, &prior_covariance, &observation, &values);
    for (members, space) in [
        (7, Space::Ensemble),
        (7, Space::Observation),
        (50, Space::Auto),
    ] {
        let mut ensemble = exact_ensemble(&prior_mean, &prior_covariance, members, 3);
        let filter = Etkf {
            inflation: 1.0,
            space,
        };
        filter
            .analyse(&mut ensemble, &observation, &values, 0)
            .unwrap();
        // Round-off of a few 6 × 6 factorizations.
        assert!(
            (mean(&ensemble) - &kalman_mean).norm() < 1e-12 * kalman_mean.norm().max(1.0) * 10.0
        );
        assert!(
            relative(&sample_covariance(&ensemble), &kalman_covariance) < 1e-11,
            "{members} {space:?}"
        );
    }
}

#[test]
fn letkf_with_an_unbounded_radius_is_the_etkf() {
    let (prior_mean, prior_covariance) = prior();
    let (observation, values) = observation();
    let (kalman_mean, kalman_covariance) =
        kalman(&prior_mean, &prior_covariance, &observation, &values);
    let mut ensemble = exact_ensemble(&prior_mean, &prior_covariance, 9, 5);
    let filter = Letkf {
        inflation: 1.0,
        radius: 1e7,
        geometry: Geometry::Periodic1d { points: 6 },
    };
    filter
        .analyse(&mut ensemble, &observation, &values, 0)
        .unwrap();
    // A radius of 1e7 grid spacings tapers the precision by 1 − O(1e-14).
    assert!((mean(&ensemble) - &kalman_mean).norm() < 1e-10);
    assert!(relative(&sample_covariance(&ensemble), &kalman_covariance) < 1e-10);
}

#[test]
fn stochastic_enkf_converges_to_the_kalman_filter_as_members_grow() {
    let (prior_mean, prior_covariance) = prior();
    let (observation, values) = observation();
    let (kalman_mean, kalman_covariance) =
        kalman(&prior_mean, &prior_covariance, &observation, &values);
    let mut errors = Vec::new();
    for members in [40, 400, 4000, 40000] {
        let mut ensemble = exact_ensemble(&prior_mean, &prior_covariance, members, 11);
        let filter = StochasticEnkf {
            inflation: 1.0,
            seed: 7,
            ..Default::default()
        };
        filter
            .analyse(&mut ensemble, &observation, &values, 1)
            .unwrap();
        let mean_error = (mean(&ensemble) - &kalman_mean).norm() / kalman_covariance.trace().sqrt();
        let covariance_error = relative(&sample_covariance(&ensemble), &kalman_covariance);
        errors.push((members, mean_error, covariance_error));
    }
    // Sampling error of the perturbed observations shrinks like 1/√m: a factor ~10 over
    // the range; demand a factor 4 to stay clear of chance, and ≤ 2 % at 40,000 members.
    let (first, last) = (errors[0], errors[3]);
    assert!(last.2 < first.2 / 4.0 && last.2 < 0.02, "{errors:?}");
    assert!(last.1 < 0.02, "{errors:?}");
}

/// One stochastic EnKF analysis of `start` (same seed and cycle) in ensemble space and in
/// observation space.
fn enkf_in_both_spaces(
    start: &DMatrix<f64>,
    observation: &Observation,
    values: &[f64],
    inflation: f64,
) -> [DMatrix<f64>; 2] {
    [Space::Ensemble, Space::Observation].map(|space| {
        let mut ensemble = start.clone();
        StochasticEnkf {
            inflation,
            seed: 4,
            space,
            // Both forms draw ε per observation, so the same numbers enter both.
            draws: Draws::PerObservation,
        }
        .analyse(&mut ensemble, observation, values, 3)
        .unwrap();
        ensemble
    })
}

#[test]
fn enkf_ensemble_and_observation_space_forms_agree() {
    let (prior_mean, prior_covariance) = prior();
    let (observation, values) = observation();
    let start = exact_ensemble(&prior_mean, &prior_covariance, 12, 2);
    let [ensemble_space, observation_space] =
        enkf_in_both_spaces(&start, &observation, &values, 1.1);
    assert!(relative(&ensemble_space, &observation_space) < 1e-12);
}

#[test]
fn enkf_perturbations_drawn_in_ensemble_space_give_the_same_analysis_distribution() {
    // In ensemble space the default draws the image Sᵀ(ε_j − ε̄) of the perturbations
    // directly. Over many cycles from one forecast ensemble the analysis members must have the
    // same mean and variance, entry by entry, as with ε drawn per observation.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let start = DMatrix::from_fn(6, 5, |i, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        i as f64 * 0.3 + z
    });
    let observation =
        Observation::new(6, (0..6).collect(), vec![0.4, 1.0, 0.3, 0.8, 0.5, 0.2]).unwrap();
    let values = vec![0.5, 0.1, 1.0, 0.2, 1.7, 1.1];
    let cycles = 20_000;
    let moments = |draws: Draws| {
        let filter = StochasticEnkf {
            seed: 5,
            space: Space::Ensemble,
            draws,
            ..Default::default()
        };
        let mut sum = DMatrix::zeros(6, 5);
        let mut squares = DMatrix::zeros(6, 5);
        for cycle in 0..cycles {
            let mut ensemble = start.clone();
            filter
                .analyse(&mut ensemble, &observation, &values, cycle)
                .unwrap();
            sum += &ensemble;
            squares += ensemble.map(|x| x * x);
        }
        let mean = sum / cycles as f64;
        let variance = squares / cycles as f64 - mean.map(|x| x * x);
        (mean, variance)
    };
    let (mean_image, variance_image) = moments(Draws::Auto);
    let (mean_drawn, variance_drawn) = moments(Draws::PerObservation);
    let n = cycles as f64;
    for k in 0..30 {
        let (v1, v2) = (variance_image[k], variance_drawn[k]);
        assert!(
            v1 > 1e-4 && v2 > 1e-4,
            "entry {k}: the perturbations moved nothing"
        );
        let mean_error = (mean_image[k] - mean_drawn[k]).abs();
        assert!(
            mean_error < 5.0 * ((v1 + v2) / n).sqrt(),
            "mean of entry {k}"
        );
        let variance_error = (v1 - v2).abs();
        assert!(
            variance_error < 5.0 * (2.0 * (v1 * v1 + v2 * v2) / n).sqrt(),
            "variance of entry {k}: {v1} vs {v2}"
        );
    }
}

#[test]
fn enkf_forms_agree_with_every_entry_or_an_entry_twice_observed() {
    // The observation-space form updates observed entries without forming A Sᵀ; check it
    // against the ensemble-space form when all entries are observed and when one is observed
    // twice (the shortcut must then use one of its observations, not both).
    let (prior_mean, prior_covariance) = prior();
    let truth: Vec<f64> = prior_mean.iter().map(|x| x + 0.3).collect();
    let cases = [
        Observation::new(6, (0..6).collect(), vec![0.4, 1.0, 0.3, 0.8, 0.5, 0.2]).unwrap(),
        Observation::new(6, vec![5, 2, 2, 0], vec![0.4, 1.0, 0.3, 0.8]).unwrap(),
    ];
    // 5 members: the observation-space form solves with every innovation; 12 members (at
    // least twice the observations): it forms the gain once; 600: the same a block of 256
    // members at a time, the last block partial.
    for (observation, members) in cases.iter().flat_map(|o| [(o, 5), (o, 12), (o, 600)]) {
        let values = observation.observe(&truth);
        let start = exact_ensemble(&prior_mean, &prior_covariance, members, 2);
        let results = enkf_in_both_spaces(&start, observation, &values, 1.0);
        let difference = relative(&results[0], &results[1]);
        let indices = observation.indices();
        assert!(difference < 1e-12, "{indices:?}, {members}: {difference}");
        assert!(
            relative(&results[0], &start) > 1e-3,
            "the analysis moved nothing"
        );
    }
}

#[test]
fn analysis_is_unchanged_when_observations_are_permuted() {
    let (prior_mean, prior_covariance) = prior();
    let (observation, values) = observation();
    let permuted = Observation::new(6, vec![2, 4, 0], vec![1.5, 0.5, 0.2]).unwrap();
    let permuted_values = vec![values[2], values[0], values[1]];
    // Five members, fewer than the six state entries: the rank-deficient case.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let start = DMatrix::from_fn(6, 5, |i, _| {
        prior_mean[i]
            + Distribution::<f64>::sample(&StandardNormal, &mut rng)
                * prior_covariance[(i, i)].sqrt()
    });
    let filters: Vec<Box<dyn Analysis>> = vec![
        Box::new(StochasticEnkf {
            inflation: 1.0,
            seed: 1,
            ..Default::default()
        }),
        Box::new(Etkf::default()),
        Box::new(Letkf {
            inflation: 1.02,
            radius: 1.5,
            geometry: Geometry::Periodic1d { points: 6 },
        }),
    ];
    for filter in filters {
        let mut a = start.clone();
        let mut b = start.clone();
        filter.analyse(&mut a, &observation, &values, 2).unwrap();
        filter
            .analyse(&mut b, &permuted, &permuted_values, 2)
            .unwrap();
        // Only summation orders change (and the eigen-solver sees a permuted matrix).
        assert!(
            relative(&a, &b) < 1e-12,
            "{} {}",
            filter.name(),
            relative(&a, &b)
        );
    }
}

fn ks_twin_run() -> (DMatrix<f64>, Vec<f64>) {
    let model =
        KsIntervalModel::new(KsModel::new(KsParams::standard(22.0, 64)).unwrap(), 0.05, 4).unwrap();
    let x: Vec<f64> = (0..64)
        .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 64.0).sin())
        .collect();
    let mut ensemble = medida::assimilation::initial_ensemble(&x, 0.1, 24, 42);
    let observation = Observation::every(64, 2, 0.01).unwrap();
    let mut scores = Vec::new();
    for cycle in 1..=5 {
        forecast(&model, &mut ensemble).unwrap();
        let values: Vec<f64> = observation.observe(&x).iter().map(|v| v * 0.9).collect();
        StochasticEnkf {
            inflation: 1.05,
            seed: 8,
            ..Default::default()
        }
        .analyse(&mut ensemble, &observation, &values, cycle)
        .unwrap();
        Letkf {
            inflation: 1.0,
            radius: 3.0,
            geometry: Geometry::Periodic1d { points: 64 },
        }
        .analyse(&mut ensemble, &observation, &values, cycle)
        .unwrap();
        scores.push(mean(&ensemble).norm());
    }
    (ensemble, scores)
}

#[test]
fn same_seed_gives_the_same_bits_on_one_and_two_threads() {
    let run_on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(ks_twin_run)
    };
    let (one, one_scores) = run_on(1);
    let (two, two_scores) = run_on(2);
    assert!(one
        .iter()
        .zip(two.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(one_scores, two_scores);
}

/// A Lorenz-96 state on the attractor: DAPPER's x0 (1 at entry 0) spun up for 50 time units.
fn lorenz96_start(model: &Lorenz96) -> Vec<f64> {
    let mut x = vec![0.0; 40];
    x[0] = 1.0;
    let mut workspace = model.workspace();
    for _ in 0..1000 {
        model.advance(&mut x, &mut workspace).unwrap();
    }
    x
}

/// Sakov & Oke (2008) Lorenz-96, all 40 variables observed with R = I every 0.05; the
/// published time-mean analysis RMSEs (DAPPER `mods/Lorenz96/sakov2008.py`) with ±0.02.
#[test]
fn reproduces_the_published_lorenz96_benchmarks() {
    let model = Lorenz96::sakov2008();
    let start = lorenz96_start(&model);
    let observation = Observation::full(40, 1.0).unwrap();
    let settings = |members| TwinSettings {
        members,
        cycles: 6000,
        burn_in: 1000,
        initial_spread: 0.001f64.sqrt(),
        seed: 2008,
    };
    let enkf = run_twin(
        &model,
        &observation,
        &StochasticEnkf {
            inflation: 1.06,
            seed: 2008,
            ..Default::default()
        },
        &start,
        &settings(40),
    )
    .unwrap();
    let etkf = run_twin(
        &model,
        &observation,
        &Etkf {
            inflation: 1.013,
            ..Default::default()
        },
        &start,
        &settings(24),
    )
    .unwrap();
    let letkf = run_twin(
        &model,
        &observation,
        &Letkf {
            inflation: 1.04,
            radius: 4.0,
            geometry: Geometry::Periodic1d { points: 40 },
        },
        &start,
        &settings(7),
    )
    .unwrap();
    for (name, result, published) in [
        ("EnKF", &enkf, 0.22),
        ("ETKF", &etkf, 0.18),
        ("LETKF", &letkf, 0.22),
    ] {
        assert!(
            (result.analysis_rmse - published).abs() <= 0.02,
            "{name}: {} vs published {published}",
            result.analysis_rmse
        );
    }
}

#[test]
fn bad_filter_input_is_a_clear_error() {
    let message = |r: Result<Observation, medida::MedidaError>| r.unwrap_err().to_string();
    assert!(message(Observation::new(4, vec![0, 1], vec![1.0, 0.0])).contains("variance 0"));
    assert!(message(Observation::new(4, vec![0, 1], vec![1.0, -2.0])).contains("positive"));
    assert!(message(Observation::points(4, vec![0, 4], 1.0)).contains("out of range"));
    let observation = Observation::full(4, 1.0).unwrap();
    let one_member = DMatrix::from_element(4, 1, 1.0);
    let err = Etkf::default()
        .analyse(&mut one_member.clone(), &observation, &[0.0; 4], 0)
        .unwrap_err();
    assert!(err.to_string().contains("at least 2 members"), "{err}");
    let mut ensemble = DMatrix::from_fn(4, 3, |i, j| (i + j) as f64);
    let err = StochasticEnkf::default()
        .analyse(&mut ensemble, &observation, &[0.0, f64::NAN, 0.0, 0.0], 0)
        .unwrap_err();
    assert!(
        err.to_string().contains("observation 1") && err.to_string().contains("not finite"),
        "{err}"
    );
    let err = Letkf {
        inflation: 1.0,
        radius: 0.0,
        geometry: Geometry::Periodic1d { points: 4 },
    }
    .analyse(&mut ensemble, &observation, &[0.0; 4], 0)
    .unwrap_err();
    assert!(err.to_string().contains("radius"), "{err}");
    // A model that blows up inside an ensemble forecast names the member.
    let model = Lorenz96::new(4, 8.0, 1e3, 1).unwrap();
    let mut huge = DMatrix::from_fn(4, 2, |i, _| 1e200 * (i + 1) as f64);
    let err = forecast(&model, &mut huge).unwrap_err();
    assert!(
        err.to_string().contains("member") && err.to_string().contains("no longer finite"),
        "{err}"
    );
    assert!(matches!(
        Lorenz96::new(3, 8.0, 0.05, 1),
        Err(SolverError::Parameter { .. })
    ));
}

/// No analysis at all: the ensemble runs free (the yardstick for a filter).
struct FreeRun;

impl Analysis for FreeRun {
    fn analyse(
        &self,
        _: &mut DMatrix<f64>,
        _: &Observation,
        _: &[f64],
        _: u64,
    ) -> medida::Result<()> {
        Ok(())
    }
    fn name(&self) -> String {
        "free run".into()
    }
}

/// The filters drive the QG model through the same `Model` trait: a twin experiment on small
/// two-layer β-plane turbulence, every 2nd state entry observed (σ = 0.1), LETKF with 2-D
/// periodic localization. Measured: analysis RMSE 0.020 (a fifth of the observation error)
/// while the same ensemble left free drifts to 0.066.
#[test]
fn letkf_tracks_two_layer_qg_turbulence() {
    use medida::solvers::{QgIntervalModel, QgModel, QgParams, QgScheme};
    let params = QgParams {
        hyperviscosity: 1e-2,
        hyperviscosity_order: 4,
        anisotropic: false,
        ..QgParams::inviscid(
            16,
            16,
            8.0 * std::f64::consts::PI,
            8.0 * std::f64::consts::PI,
            1.0,
            0.2,
        )
    };
    let model = QgIntervalModel::new(QgModel::new(params).unwrap(), QgScheme::Rk4, 0.1, 5).unwrap();
    let points = 16 * 16;
    let start: Vec<f64> = (0..2 * points)
        .map(|n| {
            let (i, j, layer) = ((n % points) % 16, (n % points) / 16, n / points);
            let (x, y) = (
                i as f64 * std::f64::consts::PI / 8.0,
                j as f64 * std::f64::consts::PI / 8.0,
            );
            (x + 0.5 * layer as f64).sin() * (2.0 * y).cos() + 0.5 * (x - y).cos()
        })
        .collect();
    let observed: Vec<usize> = (0..2 * points).step_by(2).collect();
    let observation = Observation::points(2 * points, observed, 0.01).unwrap();
    let settings = TwinSettings {
        members: 16,
        cycles: 120,
        burn_in: 20,
        initial_spread: 0.02,
        seed: 5,
    };
    let letkf = Letkf {
        inflation: 1.1,
        radius: 2.0,
        geometry: Geometry::Periodic2d { nx: 16, ny: 16 },
    };
    let tracked = run_twin(&model, &observation, &letkf, &start, &settings).unwrap();
    let free = run_twin(&model, &observation, &FreeRun, &start, &settings).unwrap();
    eprintln!(
        "LETKF {:.4}, free {:.4}",
        tracked.analysis_rmse, free.analysis_rmse
    );
    assert!(tracked.analysis_rmse < 0.3 * 0.1, "{tracked:?}");
    assert!(
        free.analysis_rmse > 2.0 * tracked.analysis_rmse,
        "free {free:?} vs {tracked:?}"
    );
}
