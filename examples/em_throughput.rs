//! Benchmark (seed 000 §2.4.2 "并行计算 / 批处理"): Euler–Maruyama throughput of the crate's
//! one SDE loop on the reverse VP SDE with the closed-form score of the appendix's 2-D
//! three-component mixture — 100 000 particles, 1000 steps from t = 1 to 1e-3 — next to the
//! raw standard-normal rate of the generator the loop uses (the practical ceiling: two normals
//! per particle-step).
//!
//! ```text
//! cargo run --release --example em_throughput                       # Rust only
//! /tmp/benchvenv/bin/python /work/shared/bench/em_throughput.py --json > /tmp/em_py.json
//! cargo run --release --example em_throughput -- --baseline /tmp/em_py.json   # + ratios
//! ```
//!
//! Run the two back to back on an otherwise idle machine and quote ratios, not times.
//! The crate's loop is `f64` only: its `Sde`/`Score` interfaces and batches are `f64` ndarray
//! arrays, and an `f32` path would need a second loop or a generic float parameter through
//! every trait of the crate; the table compares this `f64` loop with torch's `f32` one.

use std::time::Instant;

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::sde::CHUNK_ROWS;

const N: usize = 100_000;
const STEPS: usize = 1000;
const EPS: f64 = 1e-3;

fn main() -> diffusion_sde::Result<()> {
    let baseline = baseline_from_args();
    let threads = rayon::current_num_threads();

    // The experiment: x_T ~ N(0, I), reverse-time EM with the exact mixture score.
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let reverse = ReverseSde::new(sde, MixtureMarginal::new(sde, data.clone()));
    let grid = TimeGrid::uniform(sde.t_max(), EPS, STEPS)?;
    let x_t = sde.prior_sample(N, 2, &mut rng::seeded(0));

    // Warm-up (page faults, thread pool), then the timed run.
    EulerMaruyama.solve(
        &reverse,
        x_t.view(),
        &TimeGrid::uniform(1.0, EPS, 10)?,
        Noise::Seed(1),
        Record::Final,
    )?;
    let (cpu0, busy0) = (process_cpu_s(), machine_busy_s());
    let start = Instant::now();
    let sol = EulerMaruyama.solve(&reverse, x_t.view(), &grid, Noise::Seed(0), Record::Final)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = process_cpu_s().zip(cpu0).map(|(a, b)| a - b);
    let others = busy0
        .zip(machine_busy_s())
        .zip(cpu)
        .map(|((b0, b1), own)| ((b1 - b0 - own) / wall).max(0.0));
    let rate = (N * STEPS) as f64 / wall;

    // The generator's raw N(0,1) rate, one thread, and the ceiling it sets for the loop.
    let normals = normal_rate();
    let ceiling = normals * threads as f64 / 2.0;

    let x = sol.last();
    let mean = x.mean_axis(Axis(0)).expect("non-empty");
    let std = x.std_axis(Axis(0), 0.0);
    let (true_mean, true_cov) = (data.mean(), data.covariance());

    println!("Euler–Maruyama, reverse VP SDE, closed-form 3-component 2-D mixture score");
    println!(
        "{N} particles × {STEPS} steps, f64, {threads} threads (rayon), chunks of {CHUNK_ROWS}"
    );
    println!();
    println!("| quantity | value |");
    println!("|---|---|");
    println!("| wall time of the loop | {wall:.3} s |");
    println!("| particle-steps/s | {rate:.4e} |");
    println!(
        "| N(0,1) samples per CPU-second, one thread (xoshiro256++ + ziggurat) | {normals:.4e} |"
    );
    println!("| ceiling: normals/s × threads / 2 | {ceiling:.4e} particle-steps/s |");
    println!("| loop / ceiling | {:.2} |", rate / ceiling);
    if let Some(cpu) = cpu {
        println!("| CPU time of the loop (all threads) | {cpu:.2} s |");
        println!(
            "| CPU per particle-step | {:.1} ns |",
            cpu / (N * STEPS) as f64 * 1e9
        );
    }
    if let Some(others) = others {
        println!("| other processes during the loop | {others:.2} cores busy on average |");
    }
    println!(
        "| sample mean | ({:.4}, {:.4}), true ({:.4}, {:.4}) |",
        mean[0], mean[1], true_mean[0], true_mean[1]
    );
    println!(
        "| sample std | ({:.4}, {:.4}), true ({:.4}, {:.4}) |",
        std[0],
        std[1],
        true_cov[[0, 0]].sqrt(),
        true_cov[[1, 1]].sqrt()
    );

    if let Some(path) = baseline {
        compare(&path, rate, normals)?;
    } else {
        println!("\n(no --baseline FILE given: run ../shared/bench/em_throughput.py --json for the ratios)");
    }
    Ok(())
}

/// `--baseline FILE`: the JSON line printed by `em_throughput.py --json`.
fn baseline_from_args() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--baseline")
        .and_then(|i| args.get(i + 1).cloned())
}

/// Standard normals per second of CPU time from the crate's generator, one thread
/// (20 × 10⁷ samples; CPU time, so other processes on the machine do not count).
fn normal_rate() -> f64 {
    let mut buf = vec![0.0; 10_000_000];
    let mut r = rng::seeded(3);
    let (t0, c0) = (Instant::now(), thread_cpu_s());
    for _ in 0..20 {
        rng::fill_normals(&mut r, &mut buf);
        std::hint::black_box(&buf);
    }
    let elapsed = thread_cpu_s()
        .zip(c0)
        .map_or(t0.elapsed().as_secs_f64(), |(a, b)| a - b);
    20.0 * buf.len() as f64 / elapsed
}

/// utime + stime from a `/proc/…/stat` file, in seconds (Linux; USER_HZ = 100).
fn proc_cpu_s(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn process_cpu_s() -> Option<f64> {
    proc_cpu_s("/proc/self/stat")
}

fn thread_cpu_s() -> Option<f64> {
    proc_cpu_s("/proc/thread-self/stat")
}

/// Busy CPU seconds of the whole machine so far (all cores, `/proc/stat`), as the Python
/// baseline's `host.contention` measures it.
fn machine_busy_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let idle = v.get(3)? + v.get(4)?;
    Some((v.iter().sum::<f64>() - idle) / 100.0)
}

/// Prints the Rust/Python ratios from the baseline JSON.
fn compare(path: &str, rate: f64, normals: f64) -> diffusion_sde::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let json: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .map_err(|e| Error::Numerical(format!("cannot parse {path}: {e}")))?;
    println!("\nBaseline {path} (run back to back on the same machine):");
    if let Some(host) = json.get("host") {
        println!("host: {host}");
    }
    println!();
    println!("| Python implementation | particle-steps/s | Rust f64 / it | its mean | its std |");
    println!("|---|---|---|---|---|");
    if let Some(em) = json.get("em").and_then(|v| v.as_object()) {
        for (name, v) in em {
            let Some(py) = v.get("particle_steps_per_s").and_then(|v| v.as_f64()) else {
                continue;
            };
            println!(
                "| {name} | {py:.4e} | **{:.2}×** | {} | {} |",
                rate / py,
                v.get("mean").map_or(String::new(), |m| m.to_string()),
                v.get("std").map_or(String::new(), |m| m.to_string())
            );
        }
    }
    if let Some(rates) = json.get("rng_samples_per_s").and_then(|v| v.as_object()) {
        println!();
        println!("| normal generator | samples/s | crate's (one thread) / it |");
        println!("|---|---|---|");
        println!("| crate: xoshiro256++ + ziggurat, f64 | {normals:.4e} | 1.00 |");
        for (name, v) in rates {
            if let Some(r) = v.as_f64() {
                println!("| {name} | {r:.4e} | {:.2} |", normals / r);
            }
        }
    }
    if let Some(t32) = json
        .pointer("/em/torch_float32/particle_steps_per_s")
        .and_then(|v| v.as_f64())
    {
        let ratio = rate / t32;
        println!(
            "\nRust f64 loop vs torch float32 loop: {ratio:.2}× (target ≥ 2×: {})",
            if ratio >= 2.0 { "met" } else { "NOT met" }
        );
    }
    Ok(())
}
