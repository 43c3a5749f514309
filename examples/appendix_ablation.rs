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
//! cargo run --release --example appendix_ablation [-- --steps 4000 --seeds 3 --first-seed 0 --from K]
//! cargo run --release --example appendix_ablation -- --improved-only --seeds 10 [--dump DIR]
//! ```
//!
//! Every row can also change three settings the recipe does not: `--lr X` (Adam's peak rate,
//! `10⁻³`), `--stratified` (stratified training times) and `--cosine-weighting`
//! (`λ = g² sech(ℓ/2)` instead of `σ²`) — the README's "tried and not kept".
//!
//! `--from K` skips the first `K` rows. Prints a markdown table: mean energy distance (reverse SDE, PF-ODE) over the seeds, the
//! worst seed, and the training seconds, beside the noise floor's band. `--improved-only` runs
//! the improved recipe alone and prints one row per seed, with the distance of that seed's 1000
//! training points themselves to the same fresh points (what a network that reproduced its
//! training set exactly would score). `--dump DIR` also writes each seed's training points,
//! fresh points and prior draw to `DIR/seed<K>/{data,reference,prior}.csv`, for
//! `bench/python/appendix.py --variant improved --data DIR/seed<K>` to train PyTorch's twin on
//! the very same draws.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::ArrayView2;

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant, IMPROVED_EMA};
use diffusion_sde::error::{invalid, positive};
use diffusion_sde::framework::dsm::{train_dsm, LrSchedule, TimeSampling, Weighting};
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
    /// All four changes: `--variant improved`.
    fn all(self) -> bool {
        self.v && self.sin && self.ema && self.cos
    }

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

/// The command line.
struct Options {
    steps: usize,
    seeds: u64,
    first_seed: u64,
    from: usize,
    improved_only: bool,
    dump: Option<PathBuf>,
    lr: f64,
    stratified: bool,
    cosine_weighting: bool,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut o = Options {
            steps: Variant::Improved.default_steps(),
            seeds: 3,
            first_seed: 0,
            from: 0,
            improved_only: false,
            dump: None,
            lr: 1e-3,
            stratified: false,
            cosine_weighting: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = |name: &'static str| match args.next() {
                Some(v) => Ok(v),
                None => invalid(name, "(missing)", "needs a value"),
            };
            match flag.as_str() {
                "--steps" => o.steps = number("--steps", &value("--steps")?)?,
                "--seeds" => o.seeds = number("--seeds", &value("--seeds")?)?,
                "--first-seed" => o.first_seed = number("--first-seed", &value("--first-seed")?)?,
                "--from" => o.from = number("--from", &value("--from")?)?,
                "--lr" => o.lr = number("--lr", &value("--lr")?)?,
                "--dump" => o.dump = Some(PathBuf::from(value("--dump")?)),
                "--improved-only" => o.improved_only = true,
                "--stratified" => o.stratified = true,
                "--cosine-weighting" => o.cosine_weighting = true,
                other => {
                    return invalid("argument", other, "unknown (see the example's doc comment)")
                }
            }
        }
        if o.seeds == 0 || o.steps == 0 {
            return invalid(
                "--seeds/--steps",
                format!("{}/{}", o.seeds, o.steps),
                "need ≥ 1 each",
            );
        }
        positive("--lr", o.lr)?;
        if let (Some(dir), false) = (&o.dump, o.improved_only) {
            return invalid(
                "--dump",
                dir.display(),
                "writes the improved recipe's draws: use it with --improved-only",
            );
        }
        Ok(o)
    }
}

/// `text` parsed as a `T`, or an error naming `name` and the text.
fn number<T: std::str::FromStr>(name: &'static str, text: &str) -> Result<T> {
    text.parse()
        .or_else(|_| invalid(name, text, "not a number of the expected kind"))
}

/// What one recipe from one seed measured: energy distances to fresh data.
struct Run {
    /// Of the reverse SDE's samples.
    sde: f64,
    /// Of the PF-ODE's samples.
    ode: f64,
    /// Of the 1000 training points themselves.
    data: f64,
    /// Training seconds.
    seconds: f64,
}

/// Writes `points` (`n × 2`) to `path`, one `x,y` line each (shortest round-trip decimals).
fn write_csv(path: &Path, points: ArrayView2<f64>) -> Result<()> {
    let text: String = points
        .outer_iter()
        .map(|p| format!("{},{}\n", p[0], p[1]))
        .collect();
    std::fs::write(path, text).map_err(|e| {
        diffusion_sde::Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })
}

/// What `recipe` from `seed` measures; with `--dump`, the seed's draws are written first.
fn run(recipe: Recipe, o: &Options, seed: u64) -> Result<Run> {
    let cpu = models::device("cpu")?;
    let mut cfg = AppendixConfig::new(seed);
    cfg.train_steps = Some(o.steps);
    let ex = Experiment::new(&cfg)?;
    if let (Some(dir), true) = (&o.dump, recipe.all()) {
        let dir = dir.join(format!("seed{seed}"));
        std::fs::create_dir_all(&dir)?;
        for (name, points) in [
            ("data", &ex.data),
            ("reference", &ex.reference),
            ("prior", &ex.prior),
        ] {
            write_csv(&dir.join(format!("{name}.csv")), points.view())?;
        }
    }
    let mut net_cfg = appendix::net_config(Variant::Corrected);
    if recipe.v {
        net_cfg.parameterisation = Parameterisation::V;
    }
    if recipe.sin {
        net_cfg.embedding = TimeEmbedding::Sinusoidal { dim: 64 };
    }
    let net = ScoreNet::new(net_cfg, &cpu, seed)?;
    let mut dsm = appendix::dsm_config(Variant::Corrected, o.steps, seed.wrapping_add(1));
    dsm.lr = o.lr;
    if o.stratified {
        dsm.time_sampling = TimeSampling::Stratified;
    }
    if o.cosine_weighting {
        dsm.weighting = Weighting::Cosine;
    }
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
    let energy =
        |x: ArrayView2<f64>| -> Result<f64> { Ok(quality(x, ex.reference.view())?.energy) };
    Ok(Run {
        sde: energy(sde_run.last().view())?,
        ode: energy(ode_run.last().view())?,
        data: energy(ex.data.view())?,
        seconds,
    })
}

fn main() -> Result<()> {
    let o = Options::parse()?;
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
    let seed_range = o.first_seed..o.first_seed + o.seeds;
    let floor = Experiment::new(&AppendixConfig::new(0))?.floor;
    println!(
        "{} full-batch Adam steps, seeds {seed_range:?}, 2000 samples, 1000 sampler steps; {} rayon threads",
        o.steps,
        rayon::current_num_threads()
    );
    println!(
        "noise floor (true vs true, 2000 points): energy {:.4} [{:.4}, {:.4}]\n",
        floor.energy_mean(),
        floor.energy_band().0,
        floor.energy_band().1
    );
    if o.improved_only {
        println!("| seed | energy, reverse SDE | energy, PF-ODE | energy, the training points themselves | training s |");
        println!("|---|---|---|---|---|");
        let mut runs = Vec::new();
        for seed in seed_range {
            let r = run(all, &o, seed)?;
            println!(
                "| {seed} | {:.4} | {:.4} | {:.4} | {:.1} |",
                r.sde, r.ode, r.data, r.seconds
            );
            runs.push(r);
        }
        let mean = |f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
        println!(
            "| mean | {:.4} | {:.4} | {:.4} | {:.1} |",
            mean(|r| r.sde),
            mean(|r| r.ode),
            mean(|r| r.data),
            mean(|r| r.seconds)
        );
        return Ok(());
    }
    println!("| recipe | energy, reverse SDE (mean; worst) | energy, PF-ODE (mean; worst) | training s (mean) |");
    println!("|---|---|---|---|");
    for recipe in recipes.into_iter().skip(o.from) {
        let runs = seed_range
            .clone()
            .map(|s| run(recipe, &o, s))
            .collect::<Result<Vec<_>>>()?;
        let n = runs.len() as f64;
        let mean = |f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / n;
        let worst = |f: fn(&Run) -> f64| runs.iter().map(f).fold(f64::MIN, f64::max);
        println!(
            "| {} | {:.4}; {:.4} | {:.4}; {:.4} | {:.1} |",
            recipe.name(),
            mean(|r| r.sde),
            worst(|r| r.sde),
            mean(|r| r.ode),
            worst(|r| r.ode),
            mean(|r| r.seconds)
        );
    }
    Ok(())
}
