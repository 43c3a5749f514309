//! Golden numbers: key outputs of every chapter's f64 code paths (sample moments, NFE, energy
//! distances, final states), recorded as exact decimal round-trips of the `f64` bits in
//! `tests/golden/golden.txt`. A refactor must reproduce them bit for bit; a change that is
//! meant to alter numbers re-blesses the file (`GOLDEN_BLESS=1 cargo test --test golden`) and
//! says so in its commit.

use std::fmt::Write as _;

use diffusion_sde::framework::samplers::{sample_from_prior, Family};
use diffusion_sde::framework::{ForwardSde, VeSde};
use diffusion_sde::framework::dsm::{train_dsm, DsmConfig};
use diffusion_sde::metrics::energy_distance;
use diffusion_sde::models::{LearnedScore, ScoreNet, ScoreNetConfig};
use diffusion_sde::prelude::*;
use diffusion_sde::smld::{probability_flow, AnnealedLangevin, Langevin, SmldChain};
use diffusion_sde::solvers::{
    dormand_prince, solve_ode, AdaptiveOptions, BackwardEuler, Euler, Heun, Milstein, Rk4,
    StochasticHeun,
};
use diffusion_sde::solvers::problems::ForcedLinear;

/// Sum, sum of squares and the first entry of a batch: cheap fingerprints of every bit.
fn fingerprint(out: &mut String, key: &str, x: &Array2<f64>) {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    writeln!(out, "{key}.sum = {sum:?}").unwrap();
    writeln!(out, "{key}.sumsq = {sq:?}").unwrap();
    writeln!(out, "{key}.first = {:?}", x[[0, 0]]).unwrap();
}

fn golden() -> String {
    let mut out = String::new();
    let data = GaussianMixture::appendix_2d();
    let vp = VpSde::default();
    let truth = MixtureMarginal::new(vp, data.clone());

    // Chapter 1–2: SDE schemes through the one loop, forward and reverse.
    let x0 = data.sample(1500, 3);
    let grid = TimeGrid::uniform(0.0, 1.0, 50).unwrap();
    for (name, sol) in [
        ("em", EulerMaruyama.solve(&vp, x0.view(), &grid, Noise::Seed(4), Record::Final)),
        ("milstein", Milstein.solve(&vp, x0.view(), &grid, Noise::Seed(4), Record::Final)),
        ("sheun", StochasticHeun.solve(&vp, x0.view(), &grid, Noise::Seed(4), Record::Final)),
    ] {
        let sol = sol.unwrap();
        writeln!(out, "{name}.nfe = {}", sol.nfe).unwrap();
        fingerprint(&mut out, name, sol.last());
    }
    let reverse = ReverseSde::new(vp, truth.clone());
    let back = TimeGrid::uniform(1.0, 1e-3, 40).unwrap();
    let xt = vp.prior_sample(1500, 2, &mut rng::seeded(5));
    let sol = EulerMaruyama
        .solve(&reverse, xt.view(), &back, Noise::Seed(6), Record::Every(10))
        .unwrap();
    writeln!(out, "reverse.recorded = {}", sol.states.len()).unwrap();
    fingerprint(&mut out, "reverse", sol.last());

    // Chapter 2: fixed-step ODE steppers and the adaptive solver.
    let ode = ForcedLinear::new(-1.0).unwrap();
    let y0 = array![[1.0], [-0.5], [2.0]];
    let g = TimeGrid::uniform(0.0, 1.0, 16).unwrap();
    let be = BackwardEuler::default();
    for (name, sol) in [
        ("euler", solve_ode(&Euler, &ode, y0.view(), &g, Record::Final)),
        ("heun", solve_ode(&Heun, &ode, y0.view(), &g, Record::Final)),
        ("rk4", solve_ode(&Rk4, &ode, y0.view(), &g, Record::Every(4))),
        ("backward_euler", solve_ode(&be, &ode, y0.view(), &g, Record::Final)),
    ] {
        let sol = sol.unwrap();
        writeln!(out, "{name}.nfe = {}", sol.nfe).unwrap();
        fingerprint(&mut out, name, sol.last());
    }
    let flow = ProbabilityFlow::new(vp, truth.clone());
    let dp = dormand_prince(&flow, xt.view(), 1.0, 1e-3, AdaptiveOptions::default()).unwrap();
    writeln!(out, "dopri.nfe = {}", dp.nfe).unwrap();
    fingerprint(&mut out, "dopri", &dp.state);

    // Chapter 3: Langevin, annealed Langevin, the SMLD chain, the PF-ODE by Euler.
    let ve = VeSde::new(0.1, 10.0).unwrap();
    let ve_truth = MixtureMarginal::new(ve, data.clone());
    let start = ve.prior_sample(600, 2, &mut rng::seeded(8));
    let lang = Langevin::new(0.01, 200).unwrap().sample(&ve_truth, 0.0, start.view(), 9).unwrap();
    fingerprint(&mut out, "langevin", &lang);
    let annealed = AnnealedLangevin::new(ve, 5, 40, 5e-4)
        .unwrap()
        .sample(&ve_truth, start.view(), 10)
        .unwrap();
    fingerprint(&mut out, "annealed", &annealed);
    let chain = SmldChain::new(ve, 20).unwrap();
    let fwd = chain.forward(x0.view(), 11, Record::Final).unwrap();
    fingerprint(&mut out, "smld_forward", fwd.last());
    let rev = chain.reverse(&ve_truth, start.view(), 12, Record::Final).unwrap();
    fingerprint(&mut out, "smld_reverse", rev.last());
    let pf = probability_flow(ve, &ve_truth, start.view(), &TimeGrid::uniform(1.0, 1e-3, 30).unwrap(), Record::Final)
        .unwrap();
    fingerprint(&mut out, "smld_pf", pf.last());

    // Chapter 4: every sampler family at one budget, with the closed-form score.
    let reference = data.sample(1500, 13);
    for family in Family::ALL {
        for sampler in family.ladder(&[12]) {
            let sol = sample_from_prior(sampler.as_ref(), &vp, &truth, 1500, 2, 14).unwrap();
            let key = format!("sampler[{}]", sampler.name());
            writeln!(out, "{key}.nfe = {}", sol.nfe).unwrap();
            fingerprint(&mut out, &key, sol.last());
            let ed = energy_distance(sol.last().view(), reference.view()).unwrap();
            writeln!(out, "{key}.energy = {ed:?}").unwrap();
        }
    }

    // Chapter 4: a learned network (a few DSM steps) sampled by the reverse SDE and the PF-ODE.
    let device = diffusion_sde::models::device("cpu").unwrap();
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &device, 15).unwrap();
    let log = train_dsm(&net, &vp, data.sample(500, 16).view(), &DsmConfig::new(30, 17)).unwrap();
    writeln!(out, "dsm.final_loss = {:?}", log.losses.last().unwrap()).unwrap();
    let learned = LearnedScore::new(&net, vp);
    for family in [Family::EulerMaruyama, Family::PfHeun, Family::DpmSolverPP2M] {
        let sampler = family.at_budget(10).unwrap();
        let sol = sample_from_prior(sampler.as_ref(), &vp, &learned, 1500, 2, 18).unwrap();
        fingerprint(&mut out, &format!("learned[{}]", sampler.name()), sol.last());
    }
    out
}

#[test]
fn every_chapter_reproduces_its_golden_numbers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/golden.txt");
    let now = golden();
    if std::env::var_os("GOLDEN_BLESS").is_some() {
        std::fs::write(path, &now).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).expect("tests/golden/golden.txt (bless it first)");
    let (want, now): (Vec<&str>, Vec<&str>) = (want.lines().collect(), now.lines().collect());
    let differing: Vec<String> = want
        .iter()
        .zip(&now)
        .filter(|(w, n)| w != n)
        .map(|(w, n)| format!("  want {w}\n  got  {n}"))
        .collect();
    assert!(
        differing.is_empty() && want.len() == now.len(),
        "{} of {} golden lines differ ({} vs {} lines):\n{}",
        differing.len(),
        want.len(),
        want.len(),
        now.len(),
        differing.join("\n")
    );
}
