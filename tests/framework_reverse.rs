//! Seed 001 §3.1.3–§3.1.5 on mixture data: the reverse SDE and the PF-ODE started from p_T
//! have the forward SDE's marginals p_t at every t (not only at the end), and the PF-ODE is a
//! transport map, not the mean of the SDE's paths (seed 001 fig. 2's caption; contrary to
//! seed 000 §4.3.3's "ODE是SDE的期望轨迹").

use diffusion_sde::framework::samplers::{PfMethod, PfOde, ReverseEulerMaruyama, Sampler};
use diffusion_sde::prelude::*;

/// Kolmogorov–Smirnov distance between a 1-D sample and a 1-D mixture.
fn ks(x: &Array2<f64>, law: &GaussianMixture) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let f = law.cdf_1d(xi).unwrap();
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// At t = 1, 0.75, 0.5, 0.25, ε the particles of both reverse processes, started from the
/// exact p_1, follow p_t: KS distance below its 0.1 % critical value 1.95/√n plus 0.01 for
/// the discretisation (EM 1000 steps, Heun 200 steps).
#[test]
fn reverse_processes_keep_the_mixture_marginals_at_every_t() {
    let sde = VpSde::default();
    let marginal = MixtureMarginal::new(sde, GaussianMixture::two_modes_1d());
    let n = 20_000;
    let x_t = marginal.at(1.0).unwrap().sample(n, 1);
    let samplers: Vec<(Box<dyn Sampler>, usize)> = vec![
        (Box::new(ReverseEulerMaruyama::new(1000)), 250),
        (Box::new(PfOde::new(PfMethod::Heun, 200)), 50),
    ];
    for (s, every) in samplers {
        let sol = s
            .sample(&sde, &marginal, x_t.view(), 2, Record::Every(every))
            .unwrap();
        assert_eq!(sol.times.len(), 5);
        for (t, x) in sol.times.iter().zip(&sol.states) {
            let d = ks(x, &marginal.at(*t).unwrap());
            assert!(
                d < 1.95 / (n as f64).sqrt() + 0.01,
                "{} at t = {t}: KS {d}",
                s.name()
            );
        }
    }
}

/// From one point x_T, the PF-ODE ends in a mode (|x| ≈ 2) while the mean of 4000 reverse-SDE
/// endpoints from the same x_T sits between the modes: the ODE path is not the SDE's mean path.
#[test]
fn the_pf_ode_is_not_the_mean_sde_path() {
    let sde = VpSde::default();
    let marginal = MixtureMarginal::new(sde, GaussianMixture::two_modes_1d());
    let n = 4000;
    let x_t = Array2::from_elem((n, 1), 0.3);
    let sde_end = ReverseEulerMaruyama::new(500)
        .sample(&sde, &marginal, x_t.view(), 3, Record::Final)
        .unwrap();
    let ode_end = PfOde::new(PfMethod::Heun, 200)
        .sample(&sde, &marginal, x_t.view(), 0, Record::Final)
        .unwrap();
    let ode = ode_end.last()[[0, 0]];
    let mean = sde_end.last().mean().unwrap();
    // The SDE endpoints split between the modes: their mean is within 1 of 0 (5 SE ≈ 0.16).
    assert!((1.5..2.5).contains(&ode.abs()), "PF-ODE endpoint {ode}");
    assert!(mean.abs() < 1.0, "mean SDE endpoint {mean}");
}
