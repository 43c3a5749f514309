//! Benchmark of the corrected appendix (issue 8): candle training steps/s (the appendix
//! network, full batch of 1000, Adam, `framework::dsm::train_dsm` — the same code the
//! `appendix` command and the notebook run) and reverse-SDE sampling throughput, run back to
//! back with `../shared/bench/appendix_torch.py` on the same machine, `--reps` times, medians.
//!
//! `RAYON_NUM_THREADS=2 cargo run --release --example appendix_bench -- [--steps 2000] [--reps 3]
//!  [--python /tmp/benchvenv/bin/python] [--script /work/shared/bench/appendix_torch.py]`
//!
//! ## Where the time goes (perf, one thread, 1000-point batch)
//! With candle's stock CPU path (commit 6b495f0) a training step spent ~22 % in page faults
//! (every 512 KB output a fresh `mmap`), ~14 % in the broadcasting bias add and its strided
//! backward sum, ~23 % in SiLU (scalar libm `exp`; a nine-operation backward) and only ~20 % in
//! the matrix multiply, which ran AVX2 kernels on an AVX-512 machine. The fixes, all in this
//! crate: `models::keep_freed_buffers` (glibc keeps freed buffers), `models::kernels` (one
//! fused `gemm` for `x Wᵀ + b`, SiLU and its derivative in one vectorised pass each, split over
//! rayon's threads), and `gemm`'s runtime-detected AVX-512 kernels. Same machine, same load:
//! 3.4× less CPU time per run, training steps/s ×2–4.
//!
//! What is left: the multiply (~35 %), candle's zero-filled outputs and gradient accumulators
//! (`memset` ~12 %), SiLU (~16 %), and candle's per-operation allocation and graph walk in
//! backward (one tensor per node) and AdamW (~12 whole-tensor operations per parameter).
//! PyTorch runs the same step with oneDNN/MKL kernels, fused in-place optimisers and a caching
//! allocator; closing the rest of the gap would mean replacing candle's backward pass for the
//! MLP with a hand-written one.

use std::process::Command;
use std::time::Instant;

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant};
use diffusion_sde::framework::samplers::{ReverseEulerMaruyama, Sampler};
use diffusion_sde::framework::VpSde;
use diffusion_sde::models::{self, LearnedScore};
use diffusion_sde::solvers::Record;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn json_number(s: &str, after: &str, key: &str) -> Option<f64> {
    let i = s.find(after)?;
    let rest = &s[i..];
    let j = rest.find(&format!("\"{key}\":"))? + key.len() + 3;
    rest[j..].split([',', '}']).next()?.trim().parse().ok()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |s| {
        s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    })
}

fn main() -> diffusion_sde::Result<()> {
    let mut steps = 2000usize;
    let mut reps = 3usize;
    let mut python = Some("/tmp/benchvenv/bin/python".to_string());
    let mut script = "/work/shared/bench/appendix_torch.py".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_default();
        match a.as_str() {
            "--steps" => steps = v.parse().expect("--steps N"),
            "--reps" => reps = v.parse().expect("--reps N"),
            "--python" => python = (v != "none").then_some(v),
            "--script" => script = v,
            other => panic!("unknown argument {other}"),
        }
    }
    let cpu = models::device("cpu")?;
    let mut cfg = AppendixConfig::new(0);
    cfg.train_steps = Some(steps);
    let ex = Experiment::new(&cfg)?;
    println!("corrected appendix, {steps} Adam steps on 1000 points; sampling 2000 × 1000 reverse-SDE steps; RAYON_NUM_THREADS={}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into()));
    println!(
        "{:>4} {:>14} {:>14} {:>8} {:>16} {:>16} {:>16}",
        "rep",
        "candle it/s",
        "torch it/s",
        "ratio",
        "candle samp/s·st",
        "torch samp/s·st",
        "load (1/5/15)"
    );
    let (mut c_rates, mut t_rates, mut ratios) = (vec![], vec![], vec![]);
    let (mut c_samp, mut t_samp) = (vec![], vec![]);
    for rep in 1..=reps {
        let load = loadavg();
        let trained = appendix::train(Variant::Corrected, &cfg, &ex, &cpu, None, &mut |_| {})?;
        let rate = trained.losses.len() as f64 / trained.seconds;
        let sde = VpSde::default();
        let score = LearnedScore::new(&trained.net, sde);
        let em = ReverseEulerMaruyama::new(1000);
        let start = Instant::now();
        em.sample(&sde, &score, ex.prior.view(), 11, Record::Final)?;
        let samp = 2000.0 * 1000.0 / start.elapsed().as_secs_f64();
        let (mut t_rate, mut t_em) = (f64::NAN, f64::NAN);
        if let Some(py) = &python {
            let out = Command::new(py).arg(&script).arg("--json").output();
            match out {
                Ok(o) if o.status.success() => {
                    let s = String::from_utf8_lossy(&o.stdout);
                    t_rate = json_number(&s, "\"train\"", "steps_per_s").unwrap_or(f64::NAN);
                    t_em = json_number(&s, "\"samples_net\"", "wall_s").unwrap_or(f64::NAN);
                }
                Ok(o) => println!(
                    "torch run failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ),
                Err(e) => println!("torch not run ({py}): {e}"),
            }
        }
        println!(
            "{rep:>4} {rate:>14.1} {t_rate:>14.1} {:>8.3} {samp:>16.0} {:>16.0} {load:>16}",
            rate / t_rate,
            2000.0 * 1000.0 / t_em
        );
        c_rates.push(rate);
        t_rates.push(t_rate);
        ratios.push(rate / t_rate);
        c_samp.push(samp);
        t_samp.push(2000.0 * 1000.0 / t_em);
    }
    println!(
        "median: candle {:.1} steps/s, torch {:.1} steps/s, ratio candle/torch {:.3} (target ≥ 1.5); reverse-SDE sampling with the net: candle {:.0}, torch {:.0} particle-steps/s",
        median(c_rates), median(t_rates), median(ratios), median(c_samp), median(t_samp)
    );
    Ok(())
}
