//! Chapter 4, part 3: the few-step samplers — fitted convergence orders of the deterministic
//! samplers and the ≤ 15-NFE target with the closed-form score (appendix mixture, VP SDE).

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
    ];
    let steps = [50usize, 100, 200, 400];
    for (name, order, make) in cases {
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

/// The ≤ 15-NFE target. The exponential predictor–corrector with 15 steps (15 NFE) puts its
/// own error — the energy distance between its samples and the exact PF-ODE map of the same
/// prior draws — at under a third of the noise floor's expectation 2 E|X − X'|/n (so at
/// n = 5000 it is invisible), and its figure against fresh data lies in the floor's band
/// (the spread of 10 true-vs-true figures) for three seeds. DPM-Solver++(2M) with the same
/// 15 NFE has an error as large as half the floor or more.
#[test]
fn exponential_pc_reaches_the_noise_floor_in_15_nfe() {
    let (sde, data, score) = setup();
    let n = 5000;
    let floor = noise_floor(&data, n, 10, 4).unwrap();
    let (_, hi) = floor.energy_band();
    for seed in [5u64, 6, 7] {
        let x_t = sde.prior_sample(n, 2, &mut rng::seeded(seed));
        let exact = AdaptivePfOde::new(1e-8, 1e-8)
            .sample(&sde, &score, x_t.view(), 0, Record::Final)
            .unwrap();
        let fresh = data.sample(n, 100 + seed);
        let pc = ExpPc::new(15)
            .sample(&sde, &score, x_t.view(), 0, Record::Final)
            .unwrap();
        assert_eq!(pc.nfe, 15);
        let own_error = energy_distance(pc.last().view(), exact.last().view()).unwrap();
        assert!(
            own_error < floor.energy_expected() / 3.0,
            "seed {seed}: {own_error} vs floor {}",
            floor.energy_expected()
        );
        let ed = energy_distance(pc.last().view(), fresh.view()).unwrap();
        assert!(ed <= hi, "seed {seed}: ED {ed} outside the band (max {hi})");
        let dpm = DpmSolverPP2M::new(15)
            .sample(&sde, &score, x_t.view(), 0, Record::Final)
            .unwrap();
        let dpm_error = energy_distance(dpm.last().view(), exact.last().view()).unwrap();
        assert!(
            dpm_error > floor.energy_expected() / 2.0,
            "seed {seed}: DPM-Solver++ error {dpm_error}"
        );
    }
}
