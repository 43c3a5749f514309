//! Chapter 4 benchmark: training steps per second of seed 000's appendix MLP
//! (2 → time-embedded 64 → 3×128 SiLU → 2, ε-prediction, 1000-point full batch, Adam) on
//! the CPU, and samples per second of every sampler with the closed-form and the learned
//! score. The comparison with PyTorch is `./workbook.sh bench appendix` (`examples/appendix_bench.rs`
//! next to `bench/python/appendix.py`).
//!
//! `cargo run --release --example train_bench [-- --steps K --n N]`

use std::time::Instant;

use candle_core::Device;
use diffusion_sde::framework::dsm::{train_dsm, DsmConfig};
use diffusion_sde::framework::samplers::{
    sample_from_prior, Family, ReverseEulerMaruyama, Sampler,
};
use diffusion_sde::models::{LearnedScore, ScoreNet, ScoreNetConfig};
use diffusion_sde::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<()> {
    let steps = arg("--steps", 500);
    let n = arg("--n", 10_000);
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let x = data.sample(1000, 0);
    let device = Device::Cpu;
    println!(
        "# train_bench: {} rayon threads, device {}",
        rayon::current_num_threads(),
        diffusion_sde::models::describe(&device)
    );

    let net = ScoreNet::new(ScoreNetConfig::appendix(), &device, 0)?;
    // Warm-up (allocations, first-touch), then the timed run.
    train_dsm(&net, &sde, x.view(), &DsmConfig::new(20, 1))?;
    let log = train_dsm(&net, &sde, x.view(), &DsmConfig::new(steps, 2))?;
    println!(
        "\n## Training (appendix MLP, {} parameters, full batch 1000)\n",
        net.num_parameters()
    );
    println!("| steps | seconds | steps/s |\n|---:|---:|---:|");
    println!(
        "| {steps} | {:.2} | {:.1} |",
        log.seconds,
        log.steps_per_second()
    );

    // The learned score of a network trained as long as the appendix (2000 steps).
    train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig::new(2000usize.saturating_sub(steps + 20), 3),
    )?;
    let learned = LearnedScore::new(&net, sde);
    let exact = MixtureMarginal::new(sde, data);

    println!("\n## Sampling (VP SDE, T = 1 → ε = 10⁻³)\n");
    println!("| sampler | NFE | score | n | seconds | samples/s |\n|---|---:|---|---:|---:|---:|");
    let mut samplers: Vec<Box<dyn Sampler>> = vec![Box::new(ReverseEulerMaruyama::new(1000))];
    samplers.extend(Family::ALL.iter().filter_map(|f| f.at_budget(100)));
    samplers.extend(Family::DormandPrince.ladder(&[]).into_iter().nth(2));
    for s in &samplers {
        for (label, score, count) in [
            ("closed form", &exact as &dyn Score, n),
            ("learned", &learned, n / 5),
        ] {
            let start = Instant::now();
            let out = sample_from_prior(s.as_ref(), &sde, score, count, 2, 7)?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "| {} | {} | {label} | {count} | {secs:.3} | {:.0} |",
                s.name(),
                out.nfe,
                count as f64 / secs
            );
        }
    }
    Ok(())
}
