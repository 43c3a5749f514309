//! `cargo run --release --bin appendix -- [--seed N] [--variant as-written|corrected|improved|both|all]
//! [--out DIR] [--device cpu|cuda] [--steps N] [--samples N] [--schedule linear|cosine|exponential]
//! [--resume PATH]`
//!
//! Reruns seed 000's appendix (see `diffusion_sde::appendix`), prints A.8's table, the metrics
//! and the diagnosis of the as-written sampler, writes `appendix.html` (interactive figures,
//! plotly.js embedded), `appendix.png` when a local chromium is found, and one checkpoint per
//! variant, `appendix_<variant>.safetensors`. `--resume` takes such a file (one variant) or a
//! folder holding them, and trains on up to the requested step count. `both` runs as-written and
//! corrected; `all` adds the improved recipe (v-prediction, sinusoidal time features, EMA,
//! cosine learning-rate decay, 4000 steps).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use diffusion_sde::appendix::{
    self, checkpoint, AppendixConfig, CheckpointInfo, Experiment, Progress, Variant, VariantReport,
};
use diffusion_sde::plot::{self, appendix as figs};
use diffusion_sde::{models, Error, Result};

struct Args {
    config: AppendixConfig,
    variants: Vec<Variant>,
    out: PathBuf,
    device: String,
    resume: Option<PathBuf>,
}

const USAGE: &str = "usage: appendix [--seed N] [--variant as-written|corrected|improved|both|all] [--out DIR] [--device cpu|cuda] \
[--steps N] [--samples N] [--schedule linear|cosine|exponential] [--resume CHECKPOINT_OR_DIR]";

fn bad(name: &'static str, value: &str, reason: &str) -> Error {
    Error::InvalidArgument {
        name,
        value: value.into(),
        reason: reason.into(),
    }
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut a = Args {
        config: AppendixConfig::new(0),
        variants: Variant::BOTH.to_vec(),
        out: PathBuf::from("appendix-out"),
        device: "cpu".into(),
        resume: None,
    };
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let name: &'static str = match flag.as_str() {
            "--seed" => "--seed",
            "--variant" => "--variant",
            "--out" => "--out",
            "--device" => "--device",
            "--steps" => "--steps",
            "--samples" => "--samples",
            "--schedule" => "--schedule",
            "--resume" => "--resume",
            other => return Err(bad("argument", other, USAGE)),
        };
        let v = it.next().ok_or_else(|| bad(name, "", "needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(name, v, "must be a non-negative integer"))
        };
        match name {
            "--seed" => a.config.seed = number(&v)?,
            "--variant" => {
                a.variants = match v.as_str() {
                    "both" => Variant::BOTH.to_vec(),
                    "all" => Variant::ALL.to_vec(),
                    _ => vec![v.parse()?],
                };
            }
            "--out" => a.out = PathBuf::from(v),
            "--device" => {
                if !["cpu", "cuda"].contains(&v.as_str()) {
                    return Err(bad("--device", &v, "expected cpu or cuda"));
                }
                a.device = v;
            }
            "--steps" => a.config.train_steps = Some(number(&v)? as usize),
            "--samples" => a.config.n_sample = number(&v)? as usize,
            "--schedule" => a.config.schedule = v.parse()?,
            _ => a.resume = Some(PathBuf::from(v)),
        }
    }
    Ok(Some(a))
}

/// Creates `dir` and proves it writable, before any training.
fn check_out(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        bad(
            "--out",
            &dir.display().to_string(),
            &format!("cannot be written: {e}"),
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".appendix-write-test");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

fn checkpoint_path(dir: &Path, v: Variant) -> PathBuf {
    dir.join(format!("appendix_{v}.safetensors"))
}

fn resume_path(resume: &Option<PathBuf>, v: Variant, single: bool) -> Result<Option<PathBuf>> {
    match resume {
        None => Ok(None),
        Some(p) if p.is_dir() => Ok(Some(checkpoint_path(p, v))),
        Some(_) if !single => Err(bad(
            "--resume",
            "a file",
            "with --variant both, pass the folder holding appendix_<variant>.safetensors",
        )),
        Some(p) => Ok(Some(p.clone())),
    }
}

fn bar(p: &Progress, start: Instant) {
    match p {
        Progress::Train {
            variant,
            step,
            total,
            loss,
        } => {
            if *step % 10 == 0 || step == total {
                let w = 30;
                let filled = (step * w / (*total).max(1)).min(w);
                let rate = *step as f64 / start.elapsed().as_secs_f64().max(1e-9);
                eprint!(
                    "\r{variant:>10} train [{}{}] {step}/{total}  loss {loss:.4}  {rate:.0} it/s ",
                    "#".repeat(filled),
                    "-".repeat(w - filled)
                );
                if step == total {
                    eprintln!();
                }
            }
        }
        Progress::Sample { variant, method } => eprintln!("{variant:>10} sample {method}"),
    }
    let _ = std::io::stderr().flush();
}

fn figures(ex: &Experiment, reports: &[VariantReport], cfg: &AppendixConfig) -> Vec<plotly::Plot> {
    let ts: Vec<f64> = (0..SEED_POINTS)
        .map(|i| i as f64 / (SEED_POINTS - 1) as f64)
        .collect();
    let schedules = appendix::BetaSchedule::ALL
        .iter()
        .map(|s| (s.to_string(), ts.iter().map(|&t| s.beta(t)).collect()))
        .collect::<Vec<_>>();
    let mut out = vec![figs::curves(
        "A.2 noise schedules β(t)",
        "t",
        "β(t)",
        &ts,
        &schedules,
    )];
    let steps: Vec<f64> = (1..=reports
        .iter()
        .map(|r| r.trained.losses.len())
        .max()
        .unwrap_or(0))
        .map(|k| k as f64)
        .collect();
    let losses = reports
        .iter()
        .map(|r| (r.trained.variant.to_string(), r.trained.losses.clone()))
        .collect::<Vec<_>>();
    out.push(figs::curves(
        "A.5 training loss (each variant's own loss)",
        "step",
        "loss",
        &steps,
        &losses,
    ));
    let mut panels = vec![("training data".to_string(), ex.data.clone())];
    for r in reports {
        for m in &r.methods {
            panels.push((
                format!("{}: {}", r.trained.variant, m.name),
                m.samples.clone(),
            ));
        }
    }
    out.push(figs::scatter_panels(
        "A.6 samples, side by side",
        &panels,
        4,
        Some(3.5),
    ));
    for r in reports {
        let m = &r.methods[0];
        let snaps = m
            .snapshots
            .iter()
            .map(|(k, x)| (format!("step {k}"), x.clone()))
            .take(8)
            .collect::<Vec<_>>();
        out.push(figs::scatter_panels(
            &format!("A.7 {}: {}", r.trained.variant, m.name),
            &snaps,
            4,
            Some(3.5),
        ));
    }
    let labels: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(move |m| format!("{}: {}", r.trained.variant, m.name))
        })
        .collect();
    let q: Vec<_> = reports
        .iter()
        .flat_map(|r| r.methods.iter().map(|m| m.quality))
        .collect();
    out.push(figs::metric_with_floor(
        "A.8 energy distance vs fresh data",
        "energy distance",
        &labels,
        &q.iter().map(|q| q.energy).collect::<Vec<_>>(),
        ex.floor.energy_band(),
    ));
    out.push(figs::metric_with_floor(
        "A.8 sliced W2 vs fresh data",
        "sliced W2",
        &labels,
        &q.iter().map(|q| q.sw2).collect::<Vec<_>>(),
        ex.floor.sw2_band(),
    ));
    let _ = cfg;
    out
}

const SEED_POINTS: usize = appendix::SEED_T;

fn write_report(dir: &Path, plots: &[plotly::Plot]) -> Result<PathBuf> {
    let mut html = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Seed 000 appendix, rerun</title></head><body>\n");
    html += &plot::load_plotly().0;
    for p in plots {
        html += &plot::inline_html(p).0;
    }
    html += "</body></html>\n";
    let path = dir.join("appendix.html");
    std::fs::write(&path, html)?;
    Ok(path)
}

/// A PNG of the report by headless chromium, if one is installed.
fn screenshot(html: &Path, height: usize) -> Option<PathBuf> {
    let browser = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|b| Path::new(b).exists())?;
    let png = html.with_extension("png");
    let abs = std::fs::canonicalize(html).ok()?;
    let status = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--window-size=1400,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", abs.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    (status.success() && png.exists()).then_some(png)
}

fn main_inner() -> Result<()> {
    let Some(args) = parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    let device = models::device(&args.device)?;
    check_out(&args.out)?;
    let single = args.variants.len() == 1;
    let resumes = args
        .variants
        .iter()
        .map(|&v| resume_path(&args.resume, v, single))
        .collect::<Result<Vec<_>>>()?;
    let ex = Experiment::new(&args.config)?;
    println!(
        "seed 000 appendix: seed {}, device {}, {} training points, {} samples per method, as-written schedule {}",
        args.config.seed,
        models::describe(&device),
        args.config.n_train,
        args.config.n_sample,
        args.config.schedule
    );
    let mut reports = Vec::new();
    for (&v, resume) in args.variants.iter().zip(&resumes) {
        let start = Instant::now();
        let r = appendix::run(v, &args.config, &ex, &device, resume.as_deref(), &mut |p| {
            bar(p, start)
        })?;
        let ck = checkpoint_path(&args.out, v);
        checkpoint::save(
            &r.trained.net,
            &CheckpointInfo {
                variant: v,
                seed: args.config.seed,
                step: r.trained.steps,
            },
            &ck,
        )?;
        let last = r
            .trained
            .losses
            .iter()
            .rev()
            .take(100)
            .copied()
            .collect::<Vec<_>>();
        println!(
            "{v}: {} steps ({} resumed) in {:.1} s ({:.0} steps/s), mean loss of the last {} steps {:.4}; checkpoint {}",
            r.trained.steps,
            r.trained.resumed_from,
            r.trained.seconds,
            r.trained.losses.len() as f64 / r.trained.seconds.max(1e-9),
            last.len(),
            last.iter().sum::<f64>() / last.len().max(1) as f64,
            ck.display()
        );
        reports.push(r);
    }
    println!("\nA.8 (the seed's statistics; as written on samples[-1] = the state after step 901) and metrics vs fresh data:");
    print!(
        "{}",
        appendix::a8_table(&ex, &reports.iter().collect::<Vec<_>>())
    );
    if let Some(r) = reports
        .iter()
        .find(|r| r.trained.variant == Variant::AsWritten)
    {
        let d = appendix::diagnose(&args.config, &ex, r)?;
        println!(
            "\ndiagnosis of the as-written sampler: it injects Σβ_iΔt = {:.4} of variance (a consistent reverse SDE: Σβ_i = {:.2}; ᾱ_end = {:.2e});\n\
             its SDE samples have std ({:.3}, {:.3}) vs the prior draw's ({:.3}, {:.3}), moved {:.4} on average from x_T, energy distance to the prior draw {:.5} (prior vs data: {:.4})",
            d.injected_as_written, d.injected_consistent, d.alpha_bar_end, d.sample_std[0], d.sample_std[1],
            d.prior_std[0], d.prior_std[1], d.displacement, d.energy_vs_prior, d.prior_energy
        );
    }
    let plots = figures(&ex, &reports, &args.config);
    let html = write_report(&args.out, &plots)?;
    println!("\nfigures: {} (interactive, offline)", html.display());
    match screenshot(&html, 480 * plots.len() + 700) {
        Some(png) => println!("static:  {}", png.display()),
        None => println!("static:  skipped (no local chromium found for a headless screenshot)"),
    }
    Ok(())
}

fn main() -> ExitCode {
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
