//! Seed 002 §3's sampler listings run as written (docs/ERRATA.md).

use diffusion_sde::framework::listings::{compare, Listing, ListingWorld, Version};
use diffusion_sde::metrics::noise_floor;
use diffusion_sde::prelude::*;

/// Share of the samples between the two modes of `two_modes_1d` (`|x| < 1`): the data put
/// `Φ(−2.5) ≈ 0.6 %` there.
fn between_modes(x: &Array2<f64>) -> f64 {
    x.iter().filter(|v| v.abs() < 1.0).count() as f64 / x.len() as f64
}

/// Seed 002 §3.1–§3.3 with the exact model: the corrected listings and the crate's samplers
/// land in the noise-floor band of the energy distance; as written, DDPM (`α_{t−1}` for
/// `ᾱ_{t−1}`) collapses onto a point between the modes, DDIM (levels 49 … 0 of 1000) returns
/// its input noise nearly unchanged, and forward-running Euler–Maruyama spreads the noise
/// into one broad bump: each hundreds of noise floors away.
#[test]
fn seed_002_listings_as_written_miss_the_data() {
    let data = GaussianMixture::two_modes_1d();
    let n = 3000;
    let floor = noise_floor(&data, n, 10, 5).unwrap();
    let (_, band_hi) = floor.energy_band();
    let rows = compare(&data, n, 1).unwrap();
    assert_eq!(rows.len(), 9);
    for row in &rows {
        let (mean, var) = (row.samples.mean().unwrap(), row.samples.var(0.0));
        if row.version == "as written" {
            assert!(row.energy > 100.0 * floor.energy_mean(), "{:?} as written: {}", row.listing, row.energy);
            assert!(between_modes(&row.samples) > 0.3, "{:?}: {}", row.listing, between_modes(&row.samples));
            // Each is symmetric about 0 (the data's mean is 0.4, 4 standard errors 0.15).
            assert!(mean.abs() < 0.15, "{:?} as written: mean {mean}", row.listing);
            match row.listing {
                // The noise of the last step, √β₁ = 0.01, and little else.
                Listing::Ddpm => assert!(var < 1e-3, "DDPM as written: var {var}"),
                // DDIM from "level 49": ᾱ₄₉ ≈ 0.99, the noise stays N(0, ≈ 1).
                Listing::Ddim => assert!((var - 1.0).abs() < 0.2, "DDIM as written: var {var}"),
                Listing::EulerMaruyama => assert!(var > 1.5 && var < 3.5, "EM as written: var {var}"),
            }
        } else {
            // The data: mean 0.4, variance 4.0; 2 × the band's top for a 50-step DDIM's own error.
            assert!(row.energy < 2.0 * band_hi, "{:?} {}: {} vs band {band_hi}", row.listing, row.version, row.energy);
            assert!((mean - 0.4).abs() < 0.15 && (var - 4.0).abs() < 0.3, "{} {mean} {var}", row.version);
            assert!(between_modes(&row.samples) < 0.02, "{}: {}", row.version, between_modes(&row.samples));
        }
    }
    let world = ListingWorld::ddpm(data).unwrap();
    assert!(world.sample(Listing::Ddim, Version::AsWritten, 0, 1).unwrap_err().to_string().contains('n'));
    let same = world.sample(Listing::EulerMaruyama, Version::AsWritten, 10, 4).unwrap();
    assert_eq!(same, world.sample(Listing::EulerMaruyama, Version::AsWritten, 10, 4).unwrap(), "seeded");
}
