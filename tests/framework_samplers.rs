//! Chapter 4, part 3: every sampler with the closed-form score of the appendix mixture under
//! the VP SDE — correctness at high NFE, fitted convergence orders, honest NFE counts, the
//! ≤ 15-NFE target, and bad input.

use std::sync::atomic::{AtomicUsize, Ordering};

use diffusion_sde::framework::samplers::*;
use diffusion_sde::framework::ForwardSde;
use diffusion_sde::metrics::{energy_distance, noise_floor};
use diffusion_sde::prelude::*;

fn setup() -> (VpSde, GaussianMixture, MixtureMarginal<VpSde>) {
    let data = GaussianMixture::appendix_2d();
    let sde = VpSde::default();
    (sde, data.clone(), MixtureMarginal::new(sde, data))
}

fn all_samplers_at_high_nfe() -> Vec<Box<dyn Sampler>> {
    vec![
        Box::new(ReverseEulerMaruyama::new(500)),
        Box::new(PfOde::new(PfMethod::Euler, 500)),
        Box::new(PfOde::new(PfMethod::Heun, 100)),
        Box::new(AdaptivePfOde::new(1e-5, 1e-5)),
        Box::new(PredictorCorrector::new(250)),
        Box::new(Ddim::ddpm_ancestral(500)),
        Box::new(Ddim::new(0.0, 200)),
        Box::new(Ddim::new(0.5, 300)),
        Box::new(DpmSolverPP2M::new(50)),
        Box::new(ExpPc::new(30)),
        Box::new(ExpPc::new(20).order(3)),
        Box::new(ExpPc::unipc(30)),
        Box::new(DpmFast::new(60)),
        Box::new(DpmAdaptive::new(3, 1e-4, 1e-5)),
        Box::new(Hybrid::em_then_dpm_solver(0.5, 200, 30)),
    ]
}

/// Every sampler, given enough steps, draws the mixture: its energy distance to fresh data is
/// below 10× the noise floor's expectation 2 E|X − X'|/n (a correct sampler exceeds it with
/// probability < 0.2 %, by Székely & Bakirov's χ²₁ bound quoted in `metrics::NoiseFloor`),
/// and its mean and variances match p_ε's within 5 standard errors.
#[test]
fn every_sampler_draws_the_mixture_at_high_nfe() {
    let (sde, data, score) = setup();
    let n = 2000;
    let threshold = 10.0 * noise_floor(&data, n, 2, 1).unwrap().energy_expected();
    let reference = data.sample(n, 2);
    let p_eps = score.at(1e-3).unwrap();
    let (mean, cov) = (p_eps.mean(), p_eps.covariance());
    for (k, sampler) in all_samplers_at_high_nfe().iter().enumerate() {
        let x = sample_from_prior(sampler.as_ref(), &sde, &score, n, 2, 10 + k as u64).unwrap();
        let x = x.last();
        let ed = energy_distance(x.view(), reference.view()).unwrap();
        assert!(
            ed < threshold,
            "{}: ED {ed} above the floor's {threshold}",
            sampler.name()
        );
        let xm = x.mean_axis(Axis(0)).unwrap();
        for j in 0..2 {
            let se = (cov[[j, j]] / n as f64).sqrt();
            assert!(
                (xm[j] - mean[j]).abs() < 5.0 * se,
                "{}: mean[{j}] {} vs {}",
                sampler.name(),
                xm[j],
                mean[j]
            );
            let var = x.column(j).var(1.0);
            // Var(s²) ≤ (κ − 1) v²/n with kurtosis κ ≤ 3 for these mixtures.
            let se_v = cov[[j, j]] * (2.0 / n as f64).sqrt();
            assert!(
                (var - cov[[j, j]]).abs() < 5.0 * se_v,
                "{}: var[{j}] {var} vs {}",
                sampler.name(),
                cov[[j, j]]
            );
        }
    }
}

/// A score that counts the particles it is evaluated on.
struct Counting<'a, S>(&'a S, AtomicUsize);

impl<S: Score> Score for Counting<'_, S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.1.fetch_add(x.nrows(), Ordering::Relaxed);
        self.0.score(x, t)
    }
}

/// The NFE a sampler reports is the number of score evaluations per particle it made.
#[test]
fn reported_nfe_is_the_number_of_score_evaluations() {
    let (sde, _, score) = setup();
    let n = 1100; // two chunks
    let mut samplers: Vec<Box<dyn Sampler>> =
        Family::ALL.iter().filter_map(|f| f.at_budget(12)).collect();
    samplers.push(Box::new(AdaptivePfOde::new(1e-3, 1e-3)));
    samplers.push(Box::new(DpmAdaptive::default()));
    samplers.push(Box::new(PredictorCorrector {
        corrector_steps: 2,
        ..PredictorCorrector::new(5)
    }));
    for sampler in samplers {
        let counting = Counting(&score, AtomicUsize::new(0));
        let x = sample_from_prior(sampler.as_ref(), &sde, &counting, n, 2, 1).unwrap();
        assert_eq!(
            counting.1.load(Ordering::Relaxed),
            x.nfe * n,
            "{}",
            sampler.name()
        );
    }
}

/// DDIM's η = 1 step is DDPM's posterior q(x_s | x_t, x̂_0) in seed 002's discrete notation
/// (ᾱ = α², posterior mean and variance written out here independently); η = 0's step is
/// DPM-Solver++'s first (first-order) step.
#[test]
fn ddim_steps_match_ddpm_posterior_and_dpm_solver() {
    let (sde, _, score) = setup();
    let (t, s) = (0.6, 0.45);
    let x = sde.prior_sample(4, 2, &mut rng::seeded(2));
    let one_step = |sampler: &dyn Sampler| {
        sampler
            .sample(&sde, &score, x.view(), 9, Record::Final)
            .unwrap()
            .last()
            .clone()
    };
    let grid = |steps| Schedule::new(steps).from(t).to(s);
    // η = 0 against DPM-Solver++'s first step.
    let ddim0 = one_step(&Ddim {
        eta: 0.0,
        schedule: grid(1),
    });
    let dpm = one_step(&DpmSolverPP2M { schedule: grid(1) });
    assert!((&ddim0 - &dpm).iter().all(|v| v.abs() < 1e-12));
    // η = 1 against the posterior: mean + std·z with the same z (seed 9, chunk 0).
    let ddpm = one_step(&Ddim {
        eta: 1.0,
        schedule: grid(1),
    });
    let (at, st) = sde.marginal_mean_std(t).unwrap();
    let (as_, _) = sde.marginal_mean_std(s).unwrap();
    let (abar_t, abar_s) = (at * at, as_ * as_);
    let alpha = abar_t / abar_s; // DDPM's α_t for the step s → t
    let beta = 1.0 - alpha;
    let x0 = (&x + &(score.score(x.view(), t).unwrap() * (st * st))) / at;
    let mean = &x0 * (abar_s.sqrt() * beta / (1.0 - abar_t))
        + &x * (alpha.sqrt() * (1.0 - abar_s) / (1.0 - abar_t));
    let var = (1.0 - abar_s) / (1.0 - abar_t) * beta;
    let z = rng::normals(&mut rng::stream(9, 0), 4, 2);
    let expected = mean + z * var.sqrt();
    assert!(
        (&ddpm - &expected).iter().all(|v| v.abs() < 1e-12),
        "{ddpm} vs {expected}"
    );
}

#[test]
fn same_seed_same_samples_whatever_the_thread_count() {
    let (sde, _, score) = setup();
    let samplers: Vec<Box<dyn Sampler>> = vec![
        Box::new(ReverseEulerMaruyama::new(20)),
        Box::new(PredictorCorrector::new(10)),
        Box::new(Ddim::ddpm_ancestral(20)),
        Box::new(Hybrid::em_then_dpm_solver(0.5, 5, 5)),
    ];
    for s in samplers {
        let run = |threads: usize, seed: u64| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    sample_from_prior(s.as_ref(), &sde, &score, 2500, 2, seed)
                        .unwrap()
                        .last()
                        .clone()
                })
        };
        let a = run(1, 3);
        assert_eq!(a, run(2, 3), "{}", s.name());
        assert_ne!(a, run(2, 4), "{}", s.name());
    }
}

/// Given times are used as they are: the uniform grid written out gives the same samples.
#[test]
fn given_times_are_a_schedule() {
    let (sde, _, score) = setup();
    let x_t = sde.prior_sample(50, 2, &mut rng::seeded(1));
    let times: Vec<f64> = TimeGrid::uniform(1.0, 1e-3, 12).unwrap().times().to_vec();
    let given = ExpPc {
        schedule: Schedule::new(12).spacing(Spacing::Times(std::sync::Arc::new(times))),
        weights: Weights::Exact,
        order: 2,
    };
    let a = given
        .sample(&sde, &score, x_t.view(), 0, Record::Final)
        .unwrap();
    let b = ExpPc {
        schedule: Schedule::new(12),
        weights: Weights::Exact,
        order: 2,
    }
    .sample(&sde, &score, x_t.view(), 0, Record::Final)
    .unwrap();
    assert_eq!(a.last(), b.last());
    // A log-SNR grid is equally spaced in λ = log(α/σ).
    let grid = Schedule::new(8)
        .spacing(Spacing::LogSnr)
        .grid(&sde)
        .unwrap();
    let lam: Vec<f64> = grid
        .times()
        .iter()
        .map(|&t| {
            let (a, s) = sde.marginal_mean_std(t).unwrap();
            (a / s).ln()
        })
        .collect();
    let h = lam[1] - lam[0];
    assert!(
        lam.windows(2)
            .all(|w| ((w[1] - w[0]) - h).abs() < 1e-9 * h.abs().max(1.0)),
        "{lam:?}"
    );
}

/// The hybrid's record is the SDE stage's path followed by the ODE stage's.
#[test]
fn hybrid_records_both_stages() {
    let (sde, _, score) = setup();
    let h = Hybrid::em_then_dpm_solver(0.4, 6, 4);
    let x_t = sde.prior_sample(10, 2, &mut rng::seeded(1));
    let sol = h
        .sample(&sde, &score, x_t.view(), 2, Record::Every(1))
        .unwrap();
    assert_eq!(sol.times.len(), 6 + 4 + 1);
    assert!((sol.times[6] - 0.4).abs() < 1e-12 && (sol.times[10] - 1e-3).abs() < 1e-15);
    assert_eq!(sol.nfe, 10);
}

#[test]
fn bad_input_names_the_value() {
    let (sde, _, score) = setup();
    let x = sde.prior_sample(5, 2, &mut rng::seeded(0));
    let err = |s: &dyn Sampler| {
        s.sample(&sde, &score, x.view(), 0, Record::Final)
            .unwrap_err()
            .to_string()
    };
    let e = err(&ReverseEulerMaruyama {
        schedule: Schedule::new(10).to(0.0),
    });
    assert!(e.contains("ε") && e.contains('0'), "{e}");
    let e = err(&PfOde {
        method: PfMethod::Heun,
        schedule: Schedule::new(10).to(-0.1),
    });
    assert!(e.contains("-0.1"), "{e}");
    let e = err(&Ddim {
        eta: 0.0,
        schedule: Schedule::new(10).to(1.5),
    });
    assert!(e.contains("1.5"), "{e}");
    let e = err(&DpmSolverPP2M {
        schedule: Schedule::new(10).from(2.0),
    });
    assert!(e.contains("t_start") && e.contains('2'), "{e}");
    let e = err(&ExpPc::new(0));
    assert!(e.contains("steps"), "{e}");
    let e = err(&Ddim::new(1.5, 10));
    assert!(e.contains("eta") && e.contains("1.5"), "{e}");
    let e = err(&PredictorCorrector {
        snr: -1.0,
        ..PredictorCorrector::new(10)
    });
    assert!(e.contains("snr"), "{e}");
    let e = err(&AdaptivePfOde::new(0.0, 1e-3));
    assert!(e.contains("rtol"), "{e}");
    let e = err(&AdaptivePfOde {
        max_steps: 3,
        ..AdaptivePfOde::new(1e-6, 1e-6)
    });
    assert!(e.contains("max_steps") && e.contains('3'), "{e}");
    let e = err(&Hybrid {
        early: Box::new(ReverseEulerMaruyama {
            schedule: Schedule::new(5).to(0.5),
        }),
        late: Box::new(ExpPc {
            schedule: Schedule::new(5).from(0.4),
            weights: Weights::Exact,
            order: 2,
        }),
        t_switch: 0.5,
    });
    assert!(e.contains("0.4") && e.contains("0.5"), "{e}");
    let e = err(&Hybrid {
        t_switch: 0.3,
        ..Hybrid::dpm_solver_then_em(0.5, 5, 5)
    });
    assert!(e.contains("t_end") && e.contains("0.3"), "{e}");
    let e = err(&ExpPc {
        schedule: Schedule {
            spacing: Spacing::Times(std::sync::Arc::new(vec![1.0, 0.5])),
            ..Schedule::new(3)
        },
        weights: Weights::Exact,
        order: 2,
    });
    assert!(e.contains("Times"), "{e}");
    // Data of the wrong dimension for the score, and non-finite starts.
    let x3 = sde.prior_sample(5, 3, &mut rng::seeded(0));
    for s in all_samplers_at_high_nfe() {
        assert!(
            s.sample(&sde, &score, x3.view(), 0, Record::Final).is_err(),
            "{}",
            s.name()
        );
    }
    let nan = array![[f64::NAN, 0.0]];
    assert!(ExpPc::new(5)
        .sample(&sde, &score, nan.view(), 0, Record::Final)
        .is_err());
    let e = DpmAdaptive::default()
        .sample(&sde, &score, nan.view(), 0, Record::Final)
        .unwrap_err()
        .to_string();
    assert!(e.contains("x_start"), "{e}");
    // A score that blows up stops the sampler at a named step.
    let wild = ScoreFn(|x: ArrayView2<f64>, _t: f64| Ok(&x * 1e300));
    let e = Ddim::new(0.0, 10)
        .sample(&sde, &wild, x.view(), 0, Record::Final)
        .unwrap_err()
        .to_string();
    assert!(e.contains("step") && e.contains("of 10"), "{e}");
}
