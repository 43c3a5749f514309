//! Chapter 4c's headline table, headless (seed 000 §4.5): the GAN, VAE, RealNVP flow and the
//! VP-SDE diffusion model trained on the same data over several training seeds, each measured
//! the same way (quality against the noise floor, modes, likelihood, reconstruction, sampling
//! and training cost). The notebook `04c_generative_models.ipynb` shows the same numbers.
//!
//! `cargo run --release --example rivals [-- --seeds 5 --quick --data ring|appendix|both --device cpu|auto]`

use diffusion_sde::rivals::compare::{compare, Dataset, Sizes};
use diffusion_sde::Result;

fn value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let seeds = match value("--seeds") {
        None => 5,
        Some(s) => s.parse().map_err(|_| diffusion_sde::Error::InvalidArgument {
            name: "--seeds",
            value: s.clone(),
            reason: "must be a whole number".into(),
        })?,
    };
    let datasets: Vec<Dataset> = match value("--data").as_deref() {
        None | Some("both") => Dataset::BOTH.to_vec(),
        Some("ring") => vec![Dataset::Ring],
        Some("appendix") => vec![Dataset::Appendix],
        Some(other) => {
            return diffusion_sde::error::invalid("--data", other, "ring, appendix or both")
        }
    };
    let device = diffusion_sde::models::device(value("--device").as_deref().unwrap_or("cpu"))?;
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let seeds: Vec<u64> = (0..seeds as u64).collect();
    println!(
        "# rivals: {} training seeds, {sizes:?}, device {}",
        seeds.len(),
        diffusion_sde::models::describe(&device)
    );
    for dataset in datasets {
        let start = std::time::Instant::now();
        let c = compare(dataset, &seeds, &sizes, &device, None)?;
        println!("\n## {} ({:.0} s)\n{}", dataset.label(), start.elapsed().as_secs_f64(), c.to_text());
    }
    Ok(())
}
