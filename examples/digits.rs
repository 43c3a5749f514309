//! Seed 002 §5–§6 on real images: train the class-conditional U-Net on the 8×8 digits with
//! classifier-free label dropout under the cosine VP SDE, save the checkpoint, sample every
//! class with a 1000-step reverse-SDE Euler–Maruyama and a few-step DPM-Solver++, write the
//! sample grids as HTML, and report training and sampling images/s.
//!
//! ```text
//! cargo run --release --example digits -- --seed 0 --steps 3000 --out out/digits
//! cargo run --release --example digits -- --checkpoint data/digits_unet.safetensors --out out/digits
//! cargo run --release --features cuda --example digits -- --device cuda …
//! ```
//!
//! Options: `--seed S`, `--steps K` (training steps, batch `--batch B`), `--lr`, `--out DIR`,
//! `--checkpoint PATH` (load instead of training), `--device cpu|cuda|auto`,
//! `--per-class N` (samples per class), `--w W` (guidance weight), `--channels C`; `--bench`:
//! sample with DPM-Solver++(2M) only and print one `BENCH {...}` line for `./workbook.sh bench
//! unet` (its PyTorch twin is `bench/python/unet.py`; where the time goes: README, *What bounds the
//! targets not met* — the im2col copies of `models::conv`, candle's sums in the backward pass).

use std::time::Instant;

use diffusion_sde::data::digits::{self, nearest_mean};
use diffusion_sde::framework::dsm::{train_dsm_conditional, Batch, DsmConfig};
use diffusion_sde::framework::guidance::sample_classes;
use diffusion_sde::framework::samplers::{DpmSolverPP2M, ReverseEulerMaruyama, Sampler};
use diffusion_sde::framework::ScheduledVpSde;
use diffusion_sde::models::{self, DenoisingNet, UNet, UNetConfig};
use diffusion_sde::plot::{image_grids, ImagePanel};
use diffusion_sde::{Error, Result};

fn arg<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::InvalidArgument {
                    name: "option",
                    value: name.to_string(),
                    reason: "needs a value of the right type".into(),
                })
        }
    }
}

fn main() -> Result<()> {
    let seed: u64 = arg("--seed", 0)?;
    let steps: usize = arg("--steps", 3000)?;
    let batch: usize = arg("--batch", 128)?;
    let lr: f64 = arg("--lr", 2e-3)?;
    let out: String = arg("--out", "out/digits".to_string())?;
    let checkpoint: String = arg("--checkpoint", String::new())?;
    let per_class: usize = arg("--per-class", 10)?;
    let w: f64 = arg("--w", 1.0)?;
    let device = models::device(&arg("--device", "auto".to_string())?)?;
    let bench = std::env::args().any(|a| a == "--bench");
    std::fs::create_dir_all(&out)?;

    let data = digits::load_default()?;
    let sde = ScheduledVpSde::cosine();
    let config = UNetConfig {
        channels: arg("--channels", UNetConfig::digits().channels)?,
        ..UNetConfig::digits()
    };
    let net = UNet::new(config, &device, seed)?;
    println!(
        "# digits: {} images, U-Net with {} parameters on {}, {} rayon threads, cosine VP SDE on [0, {}]",
        data.len(),
        net.num_parameters(),
        models::describe(&device),
        rayon::current_num_threads(),
        ScheduledVpSde::COSINE_T
    );

    let mut metrics = serde_json::Map::new();
    if checkpoint.is_empty() {
        let config = DsmConfig {
            lr,
            batch: Batch::Mini(batch),
            log_every: Some(steps.div_ceil(20).max(1)),
            ..DsmConfig::new(steps, seed)
        };
        let start = Instant::now();
        let log =
            train_dsm_conditional(&net, &sde, data.images.view(), &data.labels, 0.1, &config)?;
        let wall = start.elapsed().as_secs_f64();
        let tail = &log.losses[log.losses.len().saturating_sub(100)..];
        let rate = (steps * batch) as f64 / log.seconds;
        let loss = tail.iter().sum::<f64>() / tail.len() as f64;
        println!(
            "training: {steps} steps × batch {batch} in {wall:.1} s: {rate:.0} images/s; mean loss of the last {} steps {loss:.4}",
            tail.len(),
        );
        metrics.insert("train_images_per_s".into(), rate.into());
        metrics.insert("train_s".into(), log.seconds.into());
        metrics.insert("loss_last100".into(), loss.into());
        let path = format!("{out}/digits_unet.safetensors");
        net.save(&path)?;
        println!("saved {path}");
    } else {
        net.load(&checkpoint)?;
        println!("loaded {checkpoint}");
    }

    let means = data.class_means()?;
    let classes: Vec<usize> = (0..digits::CLASSES).collect();
    let real: Vec<_> = classes
        .iter()
        .map(|&c| data.of_class(c))
        .collect::<Result<_>>()?;
    // As many real digits per class as samples, up to the smallest class's count.
    let shown = real.iter().map(|x| x.nrows()).fold(per_class, usize::min);
    let real = ImagePanel::new(
        "real digits",
        real.iter()
            .fold(ndarray::Array2::zeros((0, digits::PIXELS)), |acc, x| {
                ndarray::concatenate![ndarray::Axis(0), acc, x.slice(ndarray::s![..shown, ..])]
            }),
        shown,
    );
    let mut panels = vec![real];
    let mut samplers: Vec<Box<dyn Sampler>> = vec![Box::new(DpmSolverPP2M::new(10))];
    if !bench {
        samplers.insert(0, Box::new(ReverseEulerMaruyama::new(1000)));
    }
    for sampler in &samplers {
        let start = Instant::now();
        let s = sample_classes(
            &net,
            sde,
            sampler.as_ref(),
            &classes,
            per_class,
            w,
            seed + 1,
        )?;
        let secs = start.elapsed().as_secs_f64();
        let predicted = nearest_mean(&means, s.images.view())?;
        let right = predicted
            .iter()
            .zip(&s.labels)
            .filter(|(a, b)| a == b)
            .count();
        let (lo, hi) = s
            .images
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        println!(
            "sampling: {} (w = {w}), NFE {}: {} images in {secs:.2} s = {:.1} images/s; nearest-class-mean accuracy {right}/{} ; range [{lo:.2}, {hi:.2}]",
            sampler.name(),
            s.nfe,
            s.labels.len(),
            s.labels.len() as f64 / secs,
            s.labels.len()
        );
        metrics.insert(
            "sample_images_per_s".into(),
            (s.labels.len() as f64 / secs).into(),
        );
        panels.push(ImagePanel::new(
            format!("{} (NFE {})", sampler.name(), s.nfe),
            s.images,
            per_class,
        ));
    }
    let plot = image_grids(
        "8×8 digits: real and generated, one row per class",
        &panels,
        (-1.0, 1.0),
    )?;
    let path = format!("{out}/digits_samples.html");
    plot.write_html(&path);
    println!("wrote {path}");
    if bench {
        let line = serde_json::json!({
            "bench": "unet",
            "metrics": metrics,
            "info": {"threads": rayon::current_num_threads(), "steps": steps, "parameters": net.num_parameters()},
        });
        println!("BENCH {line}");
    }
    Ok(())
}
