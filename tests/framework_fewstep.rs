//! Chapter 4, part 3: the few-step samplers — fitted convergence orders of the deterministic
//! samplers and the ≤ 15- and ≤ 10-NFE targets with the closed-form score (appendix mixture,
//! VP SDE).

use diffusion_sde::framework::samplers::*;
use diffusion_sde::metrics::{energy_distance, noise_floor};
use diffusion_sde::prelude::*;

fn setup() -> (VpSde, GaussianMixture, MixtureMarginal<VpSde>) {
    let data = GaussianMixture::appendix_2d();
    let sde = VpSde::default();
    (sde, data.clone(), MixtureMarginal::new(sde, data))
}

/// Fitted orders of the deterministic samplers: the median distance to the exact PF-ODE map
/// (Dormand–Prince at rtol 1e-10) halves like 2^{-p} when the steps double. The median,
/// not the mean: a particle on a separatrix may end in another mode at coarse steps.
#[test]
fn deterministic_samplers_converge_at_their_orders() {
    let (sde, _, score) = setup();
    let n = 256;
    let x_t = sde.prior_sample(n, 2, &mut rng::seeded(3));
    let exact = AdaptivePfOde::new(1e-10, 1e-10)
        .sample(&sde, &score, x_t.view(), 0, Record::Final)
        .unwrap();
    type Make = Box<dyn Fn(usize) -> Box<dyn Sampler>>;
    let cases: Vec<(&str, f64, Make)> = vec![
        (
            "PF-ODE Euler",
            1.0,
            Box::new(|s| Box::new(PfOde::new(PfMethod::Euler, s))),
        ),
        (
            "PF-ODE Heun",
            2.0,
            Box::new(|s| Box::new(PfOde::new(PfMethod::Heun, s))),
        ),
        (
            "DDIM η=0",
            1.0,
            Box::new(|s| {
                Box::new(Ddim {
                    eta: 0.0,
                    schedule: Schedule::new(s).spacing(Spacing::LogSnr),
                })
            }),
        ),
        (
            "DPM-Solver++(2M)",
            2.0,
            Box::new(|s| Box::new(DpmSolverPP2M::new(s))),
        ),
        ("exponential PC", 3.0, Box::new(|s| Box::new(ExpPc::new(s)))),
        (
            "exponential PC of order 3",
            4.0,
            Box::new(|s| Box::new(ExpPc::new(s).order(3))),
        ),
    ];
    for (name, order, make) in cases {
        // The fourth-order PC reaches its asymptotic rate later (fitted 3.67 on 50–400 steps).
        let steps = if order > 3.5 { [100usize, 200, 400, 800] } else { [50, 100, 200, 400] };
        let errs: Vec<f64> = steps
            .iter()
            .map(|&s| {
                let x = make(s)
                    .sample(&sde, &score, x_t.view(), 0, Record::Final)
                    .unwrap();
                let mut d: Vec<f64> = (x.last() - exact.last())
                    .rows()
                    .into_iter()
                    .map(|r| r.dot(&r).sqrt())
                    .collect();
                d.sort_by(f64::total_cmp);
                d[n / 2]
            })
            .collect();
        // Least-squares slope of log2(error) against log2(steps).
        let xs: Vec<f64> = steps.iter().map(|&s| (s as f64).log2()).collect();
        let ys: Vec<f64> = errs.iter().map(|e| e.log2()).collect();
        let (mx, my) = (xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0);
        let slope = -xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>()
            / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
        assert!(
            (slope - order).abs() < 0.3,
            "{name}: fitted order {slope:.2}, expected {order} ({errs:?})"
        );
    }
}

/// The few-step targets, each sampler's own error measured as the energy distance between its
/// samples and the exact PF-ODE map of the same prior draws (Dormand–Prince at rtol 1e-8),
/// against the noise floor's expectation 2 E|X − X'|/n at n = 5000, and its figure against
/// fresh data in the floor's band (the spread of 10 true-vs-true figures), for three seeds:
///
/// - ≤ 15 NFE: the exponential predictor–corrector with 15 steps puts its own error under a
///   third of the floor (invisible at this n); DPM-Solver++(2M) with the same 15 NFE has an
///   error of half the floor or more.
/// - ≤ 10 NFE: DPM-Solver++(3M) (k-diffusion's `dpmpp_3m_sde` at η = 0) on 10 steps equally
///   spaced in log-SNR puts its own error under half the floor (measured 0.42–0.46 of it); the
///   exponential PC with the same 10 NFE is above the floor (measured ≈ 4.7×). Third-order
///   multistep with the data prediction in `λ`: `x̂_0` varies slowly in `λ`, and the even
///   `λ` grid spends the steps where it varies (Karras's ρ = 7, made for VE image models,
///   crowds them at small σ: 2.6× the floor with ρ = 15, 12× with ρ = 7; a last step onto
///   `σ = 0` spends one of the ten evaluations outside the ODE: 1–1.5×). At h ≈ 1 the PC's
///   corrector is outside its asymptotic regime.
#[test]
fn few_step_samplers_reach_the_noise_floor() {
    let (sde, data, score) = setup();
    let n = 5000;
    let floor = noise_floor(&data, n, 10, 4).unwrap();
    let (_, hi) = floor.energy_band();
    let expected = floor.energy_expected();
    let dpm3 = KDiffusion::new(KMethod::DpmPP3MSde, 10)
        .eta(0.0)
        .schedule(Schedule::new(10).spacing(Spacing::LogSnr));
    for seed in [5u64, 6, 7] {
        let x_t = sde.prior_sample(n, 2, &mut rng::seeded(seed));
        let exact = AdaptivePfOde::new(1e-8, 1e-8)
            .sample(&sde, &score, x_t.view(), 0, Record::Final)
            .unwrap();
        let fresh = data.sample(n, 100 + seed);
        let run = |s: &dyn Sampler, nfe: usize| {
            let out = s.sample(&sde, &score, x_t.view(), 0, Record::Final).unwrap();
            assert_eq!(out.nfe, nfe, "{}", s.name());
            let own = energy_distance(out.last().view(), exact.last().view()).unwrap();
            let ed = energy_distance(out.last().view(), fresh.view()).unwrap();
            (own, ed)
        };
        let (own, ed) = run(&ExpPc::new(15), 15);
        assert!(own < expected / 3.0, "seed {seed}: exp PC 15 NFE {own} vs floor {expected}");
        assert!(ed <= hi, "seed {seed}: exp PC 15 NFE, ED {ed} outside the band (max {hi})");
        let (own, _) = run(&DpmSolverPP2M::new(15), 15);
        assert!(own > expected / 2.0, "seed {seed}: DPM-Solver++(2M) 15 NFE {own}");
        let (own, ed) = run(&dpm3, 10);
        assert!(own < expected / 2.0, "seed {seed}: DPM-Solver++(3M) 10 NFE {own} vs floor {expected}");
        assert!(ed <= hi, "seed {seed}: DPM-Solver++(3M) 10 NFE, ED {ed} outside the band (max {hi})");
        let (own, _) = run(&ExpPc::new(10), 10);
        assert!(own > expected, "seed {seed}: exp PC 10 NFE {own}");
    }
}
