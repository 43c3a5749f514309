//! What each change of the improved appendix recipe buys (issue 21; seed 000 A.9: "the score
//! network's quality directly decides sample quality"). The corrected appendix problem — the
//! 2-D mixture, 1000 training points, the appendix network's widths, full-batch Adam at
//! `lr = 10⁻³` — trained with one change at a time, all four, and all four less one; every
//! recipe from 3 seeds, sampled with the reverse SDE (Euler–Maruyama) and the PF-ODE (Euler),
//! 1000 steps each, 2000 samples against 2000 fresh points. The changes:
//!
//! - **v**: the network predicts `v = α ε − σ x_0` instead of `ε` (the loss stays the
//!   `ε`-space one, `α² ‖v̂ − v‖²`);
//! - **sin**: 64 fixed sinusoidal time features instead of the learned time MLP;
//! - **ema**: the samplers use a moving average of the weights (decay 0.999);
//! - **cos**: the learning rate decays along a half cosine to 0 over the run.
//!
//! ```text
//! cargo run --release --example appendix_ablation [-- --steps 4000 --seeds 3 --from K]
//! ```
//!
//! `--from K` skips the first `K` rows. Prints a markdown table: mean energy distance (reverse SDE, PF-ODE) over the seeds, the
//! worst seed, and the training seconds, beside the noise floor's band.

use std::time::Instant;

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant, IMPROVED_EMA};
use diffusion_sde::framework::dsm::{train_dsm, LrSchedule};
use diffusion_sde::framework::samplers::{PfMethod, PfOde, ReverseEulerMaruyama, Sampler};
use diffusion_sde::framework::VpSde;
use diffusion_sde::metrics::quality;
use diffusion_sde::models::{self, LearnedScore, Parameterisation, ScoreNet, TimeEmbedding};
use diffusion_sde::solvers::Record;
use diffusion_sde::Result;

/// One recipe: which of the four changes are on.
#[derive(Clone, Copy)]
struct Recipe {
    v: bool,
    sin: bool,
    ema: bool,
    cos: bool,
}

impl Recipe {
    fn name(self) -> String {
        let on: Vec<&str> = [
            (self.v, "v"),
            (self.sin, "sin"),
            (self.ema, "ema"),
            (self.cos, "cos"),
        ]
        .iter()
        .filter(|p| p.0)
        .map(|p| p.1)
        .collect();
        if on.is_empty() {
            "corrected (ε, time MLP)".into()
        } else {
            on.join(" + ")
        }
    }
}

fn option(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Energy distances (reverse SDE, PF-ODE) and training seconds of `recipe` from `seed`.
fn run(recipe: Recipe, steps: usize, seed: u64) -> Result<(f64, f64, f64)> {
    let cpu = models::device("cpu")?;
    let mut cfg = AppendixConfig::new(seed);
    cfg.train_steps = Some(steps);
    let ex = Experiment::new(&cfg)?;
    let mut net_cfg = appendix::net_config(Variant::Corrected);
    if recipe.v {
        net_cfg.parameterisation = Parameterisation::V;
    }
    if recipe.sin {
        net_cfg.embedding = TimeEmbedding::Sinusoidal { dim: 64 };
    }
    let net = ScoreNet::new(net_cfg, &cpu, seed)?;
    let mut dsm = appendix::dsm_config(Variant::Corrected, steps, seed.wrapping_add(1));
    if recipe.ema {
        dsm.ema = Some(IMPROVED_EMA);
    }
    if recipe.cos {
        dsm.lr_schedule = LrSchedule::Cosine;
    }
    let sde = VpSde::default();
    let start = Instant::now();
    train_dsm(&net, &sde, ex.data.view(), &dsm)?;
    let seconds = start.elapsed().as_secs_f64();
    let score = LearnedScore::new(&net, sde);
    let sample_seed = seed.wrapping_add(11);
    let sde_run = ReverseEulerMaruyama::new(cfg.sampler_steps).sample(
        &sde,
        &score,
        ex.prior.view(),
        sample_seed,
        Record::Final,
    )?;
    let ode_run = PfOde::new(PfMethod::Euler, cfg.sampler_steps).sample(
        &sde,
        &score,
        ex.prior.view(),
        sample_seed,
        Record::Final,
    )?;
    Ok((
        quality(sde_run.last().view(), ex.reference.view())?.energy,
        quality(ode_run.last().view(), ex.reference.view())?.energy,
        seconds,
    ))
}

fn main() -> Result<()> {
    let steps = option("--steps", Variant::Improved.default_steps());
    let seeds = option("--seeds", 3) as u64;
    let none = Recipe {
        v: false,
        sin: false,
        ema: false,
        cos: false,
    };
    let all = Recipe {
        v: true,
        sin: true,
        ema: true,
        cos: true,
    };
    let recipes = [
        none,
        Recipe { v: true, ..none },
        all,
        Recipe { v: false, ..all },
        Recipe { sin: false, ..all },
        Recipe { ema: false, ..all },
        Recipe { cos: false, ..all },
        Recipe { sin: true, ..none },
        Recipe { ema: true, ..none },
        Recipe { cos: true, ..none },
    ];
    let first = option("--from", 0);
    let floor = Experiment::new(&AppendixConfig::new(0))?.floor;
    println!(
        "{steps} full-batch Adam steps, seeds 0..{seeds}, 2000 samples, 1000 sampler steps; {} rayon threads",
        rayon::current_num_threads()
    );
    println!(
        "noise floor (true vs true, 2000 points): energy {:.4} [{:.4}, {:.4}]\n",
        floor.energy_mean(),
        floor.energy_band().0,
        floor.energy_band().1
    );
    println!("| recipe | energy, reverse SDE (mean; worst) | energy, PF-ODE (mean; worst) | training s (mean) |");
    println!("|---|---|---|---|");
    for recipe in recipes.into_iter().skip(first) {
        let runs = (0..seeds)
            .map(|s| run(recipe, steps, s))
            .collect::<Result<Vec<_>>>()?;
        let n = runs.len() as f64;
        let mean = |f: fn(&(f64, f64, f64)) -> f64| runs.iter().map(f).sum::<f64>() / n;
        let worst = |f: fn(&(f64, f64, f64)) -> f64| runs.iter().map(f).fold(f64::MIN, f64::max);
        println!(
            "| {} | {:.4}; {:.4} | {:.4}; {:.4} | {:.1} |",
            recipe.name(),
            mean(|r| r.0),
            worst(|r| r.0),
            mean(|r| r.1),
            worst(|r| r.1),
            mean(|r| r.2)
        );
    }
    Ok(())
}
