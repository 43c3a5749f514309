//! Seed 001 §3.1.5–§3.1.6: for Gaussian data the reverse SDE and the PF-ODE are in closed form,
//! and both keep the forward SDE's marginals N(m_t, s_t²) at every t.

use diffusion_sde::framework::samplers::{
    PfMethod, PfOde, ReverseEulerMaruyama, Sampler, Schedule,
};
use diffusion_sde::framework::{AffineSde, ForwardSde, GaussianExample};
use diffusion_sde::prelude::*;

fn example() -> GaussianExample<VpSde> {
    GaussianExample::new(VpSde::default(), 2.0, 0.5).unwrap()
}

/// The closed-form score equals the one-component mixture's, and the reverse drift is
/// f x − g² s written as a(t) x + b(t).
#[test]
fn closed_forms_agree_with_the_general_machinery() {
    let ex = example();
    let mix = MixtureMarginal::new(
        ex.sde,
        GaussianMixture::gaussian(array![2.0], array![[0.25]]).unwrap(),
    );
    let x = array![[-1.0], [0.3], [2.5]];
    for t in [0.01, 0.3, 0.9] {
        let a = ex.score(x.view(), t).unwrap();
        let b = mix.score(x.view(), t).unwrap();
        assert!((&a - &b).iter().all(|v| v.abs() < 1e-12), "t = {t}");
        let (ra, rb) = ex.reverse_drift(t).unwrap();
        let rev = ex.sde.reverse_sde(&ex).drift(x.view(), t).unwrap();
        assert!(
            (rev - x.mapv(|v| ra * v + rb))
                .iter()
                .all(|v| v.abs() < 1e-10),
            "t = {t}"
        );
    }
}

/// PF-ODE (Heun) from T to ε against the closed-form flow map, path by path: Heun is second
/// order, so halving the step divides the error by ≈ 4 (fitted ratio in [3, 5]).
#[test]
fn pf_ode_follows_the_closed_form_flow_map() {
    let ex = example();
    let x_t = ex.sde.prior_sample(200, 1, &mut rng::seeded(1));
    let exact = ex.flow_map(x_t.view(), 1.0, 1e-3).unwrap();
    let err = |steps| {
        let x = PfOde::new(PfMethod::Heun, steps)
            .sample(&ex.sde, &ex, x_t.view(), 0, Record::Final)
            .unwrap();
        (x.last() - &exact)
            .iter()
            .fold(0.0_f64, |m, v| m.max(v.abs()))
    };
    let (e1, e2) = (err(100), err(200));
    assert!(e2 < 1e-3, "{e2}");
    assert!((3.0..5.0).contains(&(e1 / e2)), "{e1} / {e2}");
}

/// Both reverse processes keep p_t = N(m_t, s_t²): at every recorded time the reverse-SDE
/// (Euler–Maruyama, 1000 steps) and PF-ODE (Heun, 200 steps) particles, started from the exact
/// p_T, have mean and variance within 5 standard errors (+1 % EM bias on the variance) of the
/// forward SDE's marginal. Also under f = 0, g = √(2t) (seed 001 fig. 4's SDE).
#[test]
fn reverse_sde_and_pf_ode_keep_the_forward_marginals() {
    let edm = AffineSde::new(|_| 0.0, |t: f64| (2.0 * t).sqrt(), 3.0).unwrap();
    let vp = VpSde::default();
    let cases: [(&dyn ForwardSde, f64); 2] = [(&vp, 1.0), (&edm, 3.0)];
    let n = 20_000;
    for (sde, t_max) in cases {
        let ex = GaussianExample::new(sde, 2.0, 0.5).unwrap();
        let (m_t, s_t) = ex.marginal(t_max).unwrap();
        let x_t = rng::normals(&mut rng::seeded(2), n, 1) * s_t + m_t;
        let samplers: Vec<Box<dyn Sampler>> = vec![
            Box::new(ReverseEulerMaruyama {
                schedule: Schedule::new(1000),
            }),
            Box::new(PfOde {
                method: PfMethod::Heun,
                schedule: Schedule::new(200),
            }),
        ];
        for s in samplers {
            let sol = s
                .sample(ex.sde, &ex, x_t.view(), 3, Record::Every(s_every(&*s)))
                .unwrap();
            for (t, x) in sol.times.iter().zip(&sol.states) {
                let (m, sd) = ex.marginal(*t).unwrap();
                let (em, ev) = (x.mean().unwrap(), x.var(1.0));
                let v = sd * sd;
                assert!(
                    (em - m).abs() < 5.0 * sd / (n as f64).sqrt(),
                    "{} t = {t}: mean {em} vs {m}",
                    s.name()
                );
                assert!(
                    (ev - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt() + 0.01 * v,
                    "{} t = {t}: var {ev} vs {v}",
                    s.name()
                );
            }
        }
    }
}

fn s_every(s: &dyn Sampler) -> usize {
    if s.name().contains("Heun") {
        40
    } else {
        200
    }
}
