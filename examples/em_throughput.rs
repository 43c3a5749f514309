//! Benchmark (seed 000 §2.4.2 "并行计算 / 批处理"): Euler–Maruyama throughput of the crate's
//! one SDE loop on the reverse VP SDE with the closed-form score of the appendix's 2-D
//! three-component mixture — 100 000 particles, 1000 steps from t = 1 to 1e-3 — in `f64` and
//! in `f32`, next to the raw standard-normal rates of the generators the loop uses (two
//! normals per particle-step).
//!
//! ```text
//! cargo run --release --example em_throughput      # this table, and a `BENCH {...}` line
//! ./workbook.sh bench em                           # back to back with bench/python/em_throughput.py
//! ```
//!
//! `./workbook.sh bench` runs it next to its PyTorch twin and prints the ratios; quote ratios
//! from one such run, not times.
//! Both rows run the same loop ([`diffusion_sde::solvers::sde::solve`]) with the same
//! `EulerMaruyama`, `ReverseSde`, `VpSde` and `MixtureMarginal`: the batch's element type is a
//! parameter ([`diffusion_sde::real::Real`]). `f64` draws its normals with xoshiro256++ and
//! the ziggurat, `f32` with xoshiro256++ and a vectorised Box–Muller transform.
//! "CPU per particle-step" counts the CPU time of all threads (other processes on the machine
//! do not count); the single-thread rows run 100 000 particles × 200 steps in a one-thread pool.

use std::time::Instant;

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::driver::CHUNK_ROWS;

const N: usize = 100_000;
const STEPS: usize = 1000;
const STEPS_1T: usize = 200;
const EPS: f64 = 1e-3;

/// What one precision's run measured.
struct Run {
    name: &'static str,
    rate: f64,
    cpu_ns: Option<f64>,
    cpu_ns_1t: Option<f64>,
    others: Option<f64>,
    mean: [f64; 2],
    std: [f64; 2],
    normals: f64,
}

fn main() -> diffusion_sde::Result<()> {
    let threads = rayon::current_num_threads();
    let data = GaussianMixture::appendix_2d();
    let runs = [run::<f64>("f64", &data)?, run::<f32>("f32", &data)?];
    let (true_mean, true_cov) = (data.mean(), data.covariance());

    println!("Euler–Maruyama, reverse VP SDE, closed-form 3-component 2-D mixture score");
    println!("{N} particles × {STEPS} steps, {threads} threads (rayon), chunks of {CHUNK_ROWS}");
    println!();
    println!("| type | particle-steps/s | CPU per particle-step, all threads | CPU per particle-step, 1 thread | N(0,1)/s, 1 thread | ceiling: normals/s × threads / 2 | other processes (cores) | mean | std |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let ns = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} ns"));
    for r in &runs {
        println!(
            "| {} | {:.4e} | {} | {} | {:.4e} | {:.4e} | {} | ({:.4}, {:.4}) | ({:.4}, {:.4}) |",
            r.name,
            r.rate,
            ns(r.cpu_ns),
            ns(r.cpu_ns_1t),
            r.normals,
            r.normals * threads as f64 / 2.0,
            r.others.map_or("–".into(), |v| format!("{v:.2}")),
            r.mean[0],
            r.mean[1],
            r.std[0],
            r.std[1]
        );
    }
    println!(
        "| true | | | | | | | ({:.4}, {:.4}) | ({:.4}, {:.4}) |",
        true_mean[0],
        true_mean[1],
        true_cov[[0, 0]].sqrt(),
        true_cov[[1, 1]].sqrt()
    );
    println!("\nload average (1, 5, 15 min): {}", load_average());

    let ceiling = |r: &Run| r.normals * threads as f64 / 2.0;
    let bench = serde_json::json!({
        "bench": "em-throughput",
        "metrics": {
            "em_f64_particle_steps_per_s": runs[0].rate,
            "em_f32_particle_steps_per_s": runs[1].rate,
            "em_f32_rng_fraction": runs[1].rate / ceiling(&runs[1]),
            "em_f64_rng_fraction": runs[0].rate / ceiling(&runs[0]),
            "em_f32_std0": runs[1].std[0],
            "normals_f32_per_s": runs[1].normals,
            "normals_f64_per_s": runs[0].normals,
        },
        "info": {"threads": threads},
    });
    println!("\nBENCH {bench}");
    Ok(())
}

/// x_T ~ N(0, I) (the same draw for both types), reverse-time EM with the exact mixture score.
fn run<F: Real>(name: &'static str, data: &GaussianMixture) -> diffusion_sde::Result<Run> {
    let sde = VpSde::default();
    let reverse = ReverseSde::new(sde, MixtureMarginal::new(sde, data.clone()));
    let grid = TimeGrid::uniform(sde.t_max(), EPS, STEPS)?;
    let x_t = sde.prior_sample(N, 2, &mut rng::seeded(0)).mapv(F::of);

    // Warm-up (page faults, thread pool), then the timed run.
    let short = TimeGrid::uniform(1.0, EPS, 10)?;
    EulerMaruyama.solve(&reverse, x_t.view(), &short, Noise::Seed(1), Record::Final)?;
    let (cpu0, busy0) = (process_cpu_s(), machine_busy_s());
    let start = Instant::now();
    let sol = EulerMaruyama.solve(&reverse, x_t.view(), &grid, Noise::Seed(0), Record::Final)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = process_cpu_s().zip(cpu0).map(|(a, b)| a - b);
    let others = busy0
        .zip(machine_busy_s())
        .zip(cpu)
        .map(|((b0, b1), own)| ((b1 - b0 - own) / wall).max(0.0));

    // One thread: CPU time per particle-step, independent of the machine's load.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::Numerical(format!("a one-thread pool: {e}")))?;
    let grid_1t = TimeGrid::uniform(sde.t_max(), EPS, STEPS_1T)?;
    let cpu_1t = pool.install(|| -> diffusion_sde::Result<Option<f64>> {
        let c0 = thread_cpu_s();
        EulerMaruyama.solve(
            &reverse,
            x_t.view(),
            &grid_1t,
            Noise::Seed(2),
            Record::Final,
        )?;
        Ok(thread_cpu_s().zip(c0).map(|(a, b)| a - b))
    })?;

    let x = sol.last().mapv(F::to_f64_exact);
    let mean = x.mean_axis(Axis(0)).expect("non-empty");
    let std = x.std_axis(Axis(0), 0.0);
    Ok(Run {
        name,
        rate: (N * STEPS) as f64 / wall,
        cpu_ns: cpu.map(|c| c / (N * STEPS) as f64 * 1e9),
        cpu_ns_1t: cpu_1t.map(|c| c / (N * STEPS_1T) as f64 * 1e9),
        others,
        mean: [mean[0], mean[1]],
        std: [std[0], std[1]],
        normals: normal_rate::<F>(),
    })
}

/// Standard normals per second of CPU time from the crate's generator for `F`, one thread
/// (20 × 10⁷ samples; CPU time, so other processes on the machine do not count).
fn normal_rate<F: Real>() -> f64 {
    let mut buf = vec![F::zero(); 10_000_000];
    let mut r = rng::seeded(3);
    let (t0, c0) = (Instant::now(), thread_cpu_s());
    for _ in 0..20 {
        F::fill_normals(&mut r, &mut buf);
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

/// Busy CPU seconds of the whole machine so far (all cores, `/proc/stat`), as the bench
/// driver (`bench/run.py`) measures it.
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

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".into())
}
