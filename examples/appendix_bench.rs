//! Benchmark of the corrected appendix (issue 8): candle training steps/s (the appendix
//! network, full batch of 1000, Adam, `framework::dsm::train_dsm` — the same code the
//! `appendix` command and the notebook run) and reverse-SDE sampling throughput, run back to
//! back with `../shared/bench/appendix_torch.py` on the same machine, `--reps` times, medians.
//!
//! `RAYON_NUM_THREADS=2 cargo run --release --example appendix_bench -- [--steps 2000] [--reps 3]
//!  [--python /tmp/benchvenv/bin/python] [--script /work/shared/bench/appendix_torch.py]`

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
        "torch EM wall s",
        "load (1/5/15)"
    );
    let (mut c_rates, mut t_rates, mut ratios, mut c_samp) = (vec![], vec![], vec![], vec![]);
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
            "{rep:>4} {rate:>14.1} {t_rate:>14.1} {:>8.3} {samp:>16.0} {t_em:>16.2} {load:>16}",
            rate / t_rate
        );
        c_rates.push(rate);
        t_rates.push(t_rate);
        ratios.push(rate / t_rate);
        c_samp.push(samp);
    }
    println!(
        "median: candle {:.1} steps/s, torch {:.1} steps/s, ratio candle/torch {:.3} (target ≥ 1.5); candle sampling {:.0} particle-steps/s",
        median(c_rates), median(t_rates), median(ratios), median(c_samp)
    );
    Ok(())
}
