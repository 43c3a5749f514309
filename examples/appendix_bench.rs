//! Benchmark of seed 000's appendix network (issue 8, issue 21): training steps/s of
//! [`appendix::train`] (the appendix network, full batch of 1000, Adam — the code the
//! `appendix` command and notebook 05 run) and reverse-SDE Euler–Maruyama sampling with the
//! trained network (2000 particles × 1000 steps), then the energy distance of those samples to
//! fresh data (the sampling in `f32` end to end: `LearnedScore` as a `Score<f32>` in the
//! crate's SDE loop). `--variant improved` runs the improved recipe (v-prediction, sinusoidal time
//! features, EMA of the weights, cosine learning-rate decay; 4000 steps).
//!
//! ```text
//! cargo run --release --example appendix_bench [-- --variant corrected|improved] [--steps K]
//! ./workbook.sh bench appendix appendix-improved      # back to back with bench/python/appendix.py
//! ```
//!
//! Prints a few lines and one `BENCH {...}` line that the bench driver reads.
//!
//! ## Where the time goes (perf, one thread, 1000-point batch)
//! With candle's stock CPU path (commit 6b495f0) a training step spent ~22 % in page faults
//! (every 512 KB output a fresh `mmap`), ~14 % in the broadcasting bias add and its strided
//! backward sum, ~23 % in SiLU (scalar libm `exp`; a nine-operation backward) and only ~20 % in
//! the matrix multiply. The fixes, all in this crate: `models::keep_freed_buffers` (glibc keeps
//! freed buffers), `models::kernels` (one fused `gemm` for `x Wᵀ + b`, SiLU and its derivative
//! in one vectorised pass each, split over rayon's threads), and `gemm`'s runtime-detected
//! AVX-512 kernels. Same machine, same load: 3.4× less CPU time per run, training steps/s ×2–4.
//!
//! Since then the optimiser is `models::Adam` (candle-nn's AdamW, same numbers, one in-place
//! pass per variable instead of ~12 whole-tensor operations) and the moving average of the
//! improved recipe is `models::kernels::moving_average` (in place). Profile of the corrected
//! training after that (perf, release build with `-C target-cpu=native` as `./workbook.sh
//! bench` builds it, one thread, AVX2/FMA machine, self time): **~50 % in the matrix multiply**
//! (`gemm`'s AVX2 `x2x6` FMA microkernel ~44 %, operand packing ~5 %), `memset` ~8 % (candle's
//! backward pass: every gradient accumulator starts as a zero tensor), candle's element-wise
//! maps ~9 % (`binary_map` and the `collect` behind it: adding each node's gradient to its
//! accumulator, the loss), SiLU and its derivative and the other closures ~13 %, copies ~3 %.
//! By a rough count (≈ 274 MFLOP a step, forward and backward) the multiply already runs at
//! about half the two cores' FMA peak, so the step is bounded by it: removing every other
//! cost would make it at most ~2× faster, while issue 21's
//! target (1.5× PyTorch, which multiplies with oneDNN/MKL and keeps no autograd graph for the
//! gradient sums) needs ~2.6×. What would be left to win is a hand-written backward pass for
//! the MLP that writes the weight gradients straight into preallocated buffers (no zeroed
//! accumulators, no per-node tensors) — a change to the training loop, not to the kernels.
//!
//! That is what `models::backprop` now is: the training step of a `ScoreNet` on the CPU keeps
//! its activations on a tape and applies the chain rule layer by layer with the same `gemm`
//! calls and loops, so the gradients are candle's bit for bit (tested) — 121 → 215 steps/s.
//! The next profile (2 threads) showed ~20 % of the step in the kernel's scheduler: every
//! `gemm` and SiLU split woke rayon's threads from the main thread and slept it until they
//! finished, a dozen times a step. Run on a thread of the pool (`kernels::in_pool`), the
//! splits cost nothing of the kind (the bench's medians: 215 → 230 steps/s, the improved recipe
//! 19.9 → 16.8 s; README). What is left is mostly the multiply: the step is ≈ 274 MFLOP.
//!
//! Sampling (`LearnedScore` as a `Score<f32>`): every particle shares the step's time, so
//! `ScoreNet::output_f32` computes `emb(t)` once and folds it into the first layer's bias; the
//! network then costs 33 280 multiply–adds per particle instead of 45 632, on a per-thread
//! scratch tape — 1.1 → 1.2–1.4·10⁶ particle-steps/s. Its profile: `gemm` 63 %, SiLU 22 %
//! (README, *What bounds the targets not met*).

use std::time::Instant;

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant};
use diffusion_sde::framework::samplers::{ReverseEulerMaruyama, Sampler};
use diffusion_sde::metrics::quality;
use diffusion_sde::models::{self, LearnedScore};
use diffusion_sde::prelude::{
    EulerMaruyama, ForwardSde, Noise, Record, ReverseSde, SdeScheme, TimeGrid, VpSde,
};
use diffusion_sde::{Error, Result};

fn option(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<()> {
    let variant: Variant = option("--variant")
        .as_deref()
        .unwrap_or("corrected")
        .parse()?;
    let steps = match option("--steps") {
        None => variant.default_steps(),
        Some(v) => v.parse().map_err(|_| Error::InvalidArgument {
            name: "--steps",
            value: v.clone(),
            reason: "must be a positive integer".into(),
        })?,
    };
    let cpu = models::device("cpu")?;
    let mut cfg = AppendixConfig::new(0);
    cfg.train_steps = Some(steps);
    let ex = Experiment::new(&cfg)?;
    println!(
        "{variant} appendix: {steps} Adam steps on {} points; reverse-SDE sampling {} × {} steps; {} rayon threads",
        cfg.n_train,
        cfg.n_sample,
        cfg.sampler_steps,
        rayon::current_num_threads()
    );
    let trained = appendix::train(variant, &cfg, &ex, &cpu, None, &mut |_| {})?;
    let rate = trained.losses.len() as f64 / trained.seconds;
    let tail = &trained.losses[trained.losses.len().saturating_sub(100)..];
    let loss_last100 = tail.iter().sum::<f64>() / tail.len() as f64;
    println!(
        "training: {:.2} s, {rate:.1} steps/s, loss (mean of the last 100 steps) {loss_last100:.4}",
        trained.seconds
    );

    // Sampling in f32 end to end (the network is f32): `LearnedScore` as a `Score<f32>` in
    // the crate's one SDE loop; the f64 sampler (`ReverseEulerMaruyama`) for comparison.
    let sde = VpSde::default();
    let score = LearnedScore::new(&trained.net, sde);
    let seed = cfg.seed.wrapping_add(11);
    let grid = TimeGrid::uniform(sde.t_max(), 1e-3, cfg.sampler_steps)?;
    let prior32 = ex.prior.mapv(|v| v as f32);
    let start = Instant::now();
    let sol = EulerMaruyama.solve(
        &ReverseSde::new(sde, &score),
        prior32.view(),
        &grid,
        Noise::Seed(seed),
        Record::Final,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let particle_steps = (cfg.n_sample * cfg.sampler_steps) as f64;
    let samp = particle_steps / seconds;
    let samples = sol.last().mapv(f64::from);
    let q = quality(samples.view(), ex.reference.view())?;
    let start = Instant::now();
    ReverseEulerMaruyama::new(cfg.sampler_steps).sample(
        &sde,
        &score,
        ex.prior.view(),
        seed,
        Record::Final,
    )?;
    let samp64 = particle_steps / start.elapsed().as_secs_f64();
    println!(
        "sampling (f32): {seconds:.2} s, {samp:.3e} particle-steps/s (f64 sampler: {samp64:.3e}); energy distance to fresh data {:.4} (noise floor {:.4})",
        q.energy,
        ex.floor.energy_mean()
    );
    let bench = serde_json::json!({
        "bench": format!("appendix-{variant}"),
        "metrics": {
            "train_steps_per_s": rate,
            "train_s": trained.seconds,
            "loss_last100": loss_last100,
            "sample_particle_steps_per_s": samp,
            "sample_f64_particle_steps_per_s": samp64,
            "sde_energy": q.energy,
        },
        "info": {"threads": rayon::current_num_threads(), "steps": steps},
    });
    println!("BENCH {bench}");
    Ok(())
}
