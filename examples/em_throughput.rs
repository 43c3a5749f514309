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
//! do not count). The one-thread columns run 100 000 particles × 200 steps in a one-thread pool,
//! in five rounds that alternate with drawing as many pairs of normals the way the loop draws
//! them (a chunk's buffer at a time): the *share of the RNG ceiling* is CPU per pair over CPU
//! per particle-step from those rounds, so a slow spell of the machine slows both sides of it
//! (measured as all-thread throughput over a separately timed normal rate, it had ranged
//! 0.23–0.38 within one bench run).

use std::time::Instant;

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::driver::CHUNK_ROWS;

const N: usize = 100_000;
const STEPS: usize = 1000;
const STEPS_1T: usize = 200;
const ROUNDS: usize = 5;
const EPS: f64 = 1e-3;

/// What one precision's run measured.
struct Run {
    name: &'static str,
    rate: f64,
    cpu_ns: Option<f64>,
    cpu_ns_1t: f64,
    others: Option<f64>,
    mean: [f64; 2],
    std: [f64; 2],
    normals: f64,
    /// The RNG's share of a particle-step: CPU per pair of normals / CPU per particle-step.
    share: f64,
}

fn main() -> diffusion_sde::Result<()> {
    let threads = rayon::current_num_threads();
    let data = GaussianMixture::appendix_2d();
    let runs = [run::<f64>("f64", &data)?, run::<f32>("f32", &data)?];
    let (true_mean, true_cov) = (data.mean(), data.covariance());

    println!("Euler–Maruyama, reverse VP SDE, closed-form 3-component 2-D mixture score");
    println!("{N} particles × {STEPS} steps, {threads} threads (rayon), chunks of {CHUNK_ROWS}");
    println!();
    println!("| type | particle-steps/s | CPU per particle-step, all threads | CPU per particle-step, 1 thread | N(0,1)/s, 1 thread | share of the RNG ceiling, 1 thread | other processes (cores) | mean | std |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let ns = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} ns"));
    for r in &runs {
        println!(
            "| {} | {:.4e} | {} | {:.2} ns | {:.4e} | {:.3} | {} | ({:.4}, {:.4}) | ({:.4}, {:.4}) |",
            r.name,
            r.rate,
            ns(r.cpu_ns),
            r.cpu_ns_1t,
            r.normals,
            r.share,
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

    let bench = serde_json::json!({
        "bench": "em-throughput",
        "metrics": {
            "em_f64_particle_steps_per_s": runs[0].rate,
            "em_f32_particle_steps_per_s": runs[1].rate,
            "em_f32_rng_fraction": runs[1].share,
            "em_f64_rng_fraction": runs[0].share,
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
    let (cpu0, busy0) = (cpu_s(Clock::Process), machine_busy_s());
    let start = Instant::now();
    let sol = EulerMaruyama.solve(&reverse, x_t.view(), &grid, Noise::Seed(0), Record::Final)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_s(Clock::Process).zip(cpu0).map(|(a, b)| a - b);
    let others = busy0
        .zip(machine_busy_s())
        .zip(cpu)
        .map(|((b0, b1), own)| ((b1 - b0 - own) / wall).max(0.0));

    let one = pool_of_one()?.install(|| one_thread(&reverse, x_t.view()))?;

    let x = sol.last().mapv(F::to_f64_exact);
    let mean = x.mean_axis(Axis(0)).expect("non-empty");
    let std = x.std_axis(Axis(0), 0.0);
    Ok(Run {
        name,
        rate: (N * STEPS) as f64 / wall,
        cpu_ns: cpu.map(|c| c / (N * STEPS) as f64 * 1e9),
        cpu_ns_1t: one.ns_per_step,
        others,
        mean: [mean[0], mean[1]],
        std: [std[0], std[1]],
        normals: 2e9 / one.ns_per_pair,
        share: one.ns_per_pair / one.ns_per_step,
    })
}

fn pool_of_one() -> diffusion_sde::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::Numerical(format!("a one-thread pool: {e}")))
}

/// What one thread measured, in CPU nanoseconds.
struct OneThread {
    /// Per Euler–Maruyama particle-step.
    ns_per_step: f64,
    /// Per pair of standard normals (what a particle-step draws), drawn as the loop draws them.
    ns_per_pair: f64,
}

/// On the calling thread (a one-thread pool), in `ROUNDS` alternating rounds so that both see
/// the same machine: Euler–Maruyama on all `N` particles for `STEPS_1T / ROUNDS` steps, then as
/// many pairs of normals from the same generator into one reused buffer of a chunk's size, as
/// the loop draws them. The ratio of the two is the share of the RNG ceiling, measured so that
/// a slow spell of the machine slows both sides.
fn one_thread<F: Real, S: Sde<F>>(sde: &S, x_t: ArrayView2<F>) -> diffusion_sde::Result<OneThread> {
    let steps = STEPS_1T / ROUNDS;
    let grid = TimeGrid::uniform(1.0, EPS, steps)?;
    let mut buf = vec![F::zero(); CHUNK_ROWS * x_t.ncols()];
    // CPU time of this thread (wall time where there is none: the thread runs alone here).
    let start = Instant::now();
    let now = || cpu_s(Clock::Thread).unwrap_or_else(|| start.elapsed().as_secs_f64());
    let (mut em, mut normals) = (0.0, 0.0);
    for round in 0..ROUNDS {
        let c0 = now();
        EulerMaruyama.solve(
            sde,
            x_t,
            &grid,
            Noise::Seed(2 + round as u64),
            Record::Final,
        )?;
        let c1 = now();
        let mut r = rng::stream(3, round as u64);
        for _ in 0..steps * N.div_ceil(CHUNK_ROWS) {
            F::fill_normals(&mut r, &mut buf);
            std::hint::black_box(&buf);
        }
        let c2 = now();
        (em, normals) = (em + (c1 - c0), normals + (c2 - c1));
    }
    let particle_steps = (ROUNDS * steps * N) as f64;
    let pairs = (ROUNDS * steps * N.div_ceil(CHUNK_ROWS) * buf.len()) as f64 / 2.0;
    Ok(OneThread {
        ns_per_step: em * 1e9 / particle_steps,
        ns_per_pair: normals * 1e9 / pairs,
    })
}

/// Whose CPU time [`cpu_s`] reads.
#[derive(Clone, Copy)]
enum Clock {
    Thread,
    Process,
}

/// CPU time of this thread or of the whole process in seconds (`clock_gettime`, nanosecond
/// resolution); `None` off Unix.
#[cfg(unix)]
fn cpu_s(clock: Clock) -> Option<f64> {
    let id = match clock {
        Clock::Thread => libc::CLOCK_THREAD_CPUTIME_ID,
        Clock::Process => libc::CLOCK_PROCESS_CPUTIME_ID,
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant libc defines.
    (unsafe { libc::clock_gettime(id, &mut ts) } == 0)
        .then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn cpu_s(_: Clock) -> Option<f64> {
    None
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
