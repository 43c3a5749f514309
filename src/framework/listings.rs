//! Seed 002 §3's three sampler listings, run as written and with only their defects fixed
//! (seed 002 §3.1 `ddpm_sample`, §3.2 `ddim_sample`, §3.3 `sde_sample`).
//!
//! The listings live in DDPM's discrete world: `betas` (Ho et al.'s linear `10⁻⁴ … 0.02` over
//! 1000 levels, the discretisation of the default [`VpSde`]), `alphas = 1 − betas`,
//! `alpha_bars = cumprod(alphas)`, levels `t = 0 … 999` indexed as in Python, and `model(x, t)`.
//! Here `model` is exact: the noise prediction `ε̂ = −√(1−ᾱ_t) ∇log q_t(x)` of Gaussian-mixture
//! data at level `t` (`q_t = ` the data pushed through `N(√ᾱ_t x₀, (1−ᾱ_t) I)`), so whatever a
//! listing gets wrong is the listing's. The translation is line by line; where the seed leaves a
//! name undefined the choice is stated:
//!
//! - **DDPM** (§3.1): the posterior mean written with `alpha_{t-1}` where `ᾱ_{t−1}` belongs, in
//!   both coefficients: `√α_{t−1} β_t/(1−ᾱ_t) x̂₀ + √α_t (1−α_{t−1})/(1−ᾱ_t) x`. `sigma_t` is
//!   undefined: DDPM's `σ_t² = β_t` is used (in both versions); `α_{−1} = 1` at `t = 0`, where
//!   both coefficients then agree with the posterior's (`mean = x̂₀`). Corrected: `ᾱ_{t−1}`.
//! - **DDIM** (§3.2): `for t in reversed(range(n_steps))` with `n_steps = 50` reads
//!   `alpha_bars[49] … alpha_bars[0]` of the 1000-level schedule: it starts from `N(0, I)` as if
//!   it were level 49 (`ᾱ₄₉ ≈ 0.97`, nearly the data). Corrected: the 50 levels `980, 960, …, 0`
//!   (stride 20, `prev = t − 20`), the same update otherwise.
//! - **Euler–Maruyama** (§3.3): `for t in range(n_steps)` runs the levels forward, `0 → 999`,
//!   with `drift = −½σ_t² s`, noise `σ_t √dt z`, `dt = 1/1000`; `sigma_t` is undefined and read
//!   as §1.1's kernel std `σ_t = √(1−ᾱ_t)` (the `σ_t²` of §2.3's PF-ODE). Corrected: the levels
//!   backwards, `t = 999 → 0`, the reverse VP SDE's step `x ← x + (½β_t x + β_t s) + √β_t z`
//!   (`β(t)Δt = β_t`).
//!
//! Beside these, the crate's own samplers (`Ddim::ddpm_ancestral(1000)`, `Ddim::new(0.0, 50)`,
//! `ReverseEulerMaruyama::new(1000)`) run the same algorithms on the continuous VP SDE.

use ndarray::Array2;

use super::samplers::{sample_from_prior, Ddim, ReverseEulerMaruyama, Sampler};
use super::{MixtureMarginal, VpSde};
use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::metrics::energy_distance;
use crate::rng;
use crate::smld::DiscreteSchedule;
use crate::Result;

/// Which of seed 002 §3's listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// §3.1 `ddpm_sample`, 1000 steps.
    Ddpm,
    /// §3.2 `ddim_sample`, 50 steps.
    Ddim,
    /// §3.3 `sde_sample`, 1000 steps.
    EulerMaruyama,
}

impl Listing {
    /// The three, in the seed's order.
    pub const ALL: [Listing; 3] = [Listing::Ddpm, Listing::Ddim, Listing::EulerMaruyama];

    /// Its section in seed 002.
    pub fn section(self) -> &'static str {
        match self {
            Listing::Ddpm => "§3.1",
            Listing::Ddim => "§3.2",
            Listing::EulerMaruyama => "§3.3",
        }
    }

    /// Its name in the seed.
    pub fn label(self) -> &'static str {
        match self {
            Listing::Ddpm => "§3.1 ddpm_sample",
            Listing::Ddim => "§3.2 ddim_sample",
            Listing::EulerMaruyama => "§3.3 sde_sample",
        }
    }
}

/// As the seed prints it, or with its defects fixed and nothing else changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The listing as printed (see the module docs for the undefined names).
    AsWritten,
    /// The listing with its defects fixed.
    Corrected,
}

/// The listings' discrete world: the schedule and an exact `model(x, t)` for mixture data.
#[derive(Debug, Clone)]
pub struct ListingWorld {
    data: GaussianMixture,
    betas: Vec<f64>,
    alpha_bars: Vec<f64>,
}

impl ListingWorld {
    /// `data` with a discrete schedule (levels `0 … N−1` are its `β_1 … β_N`).
    pub fn new(data: GaussianMixture, schedule: &DiscreteSchedule) -> Result<Self> {
        let betas = schedule.betas().to_vec();
        let alpha_bars = (1..=betas.len()).map(|i| schedule.alpha_bar_at_level(i)).collect::<Result<_>>()?;
        Ok(Self { data, betas, alpha_bars })
    }

    /// `data` with Ho et al.'s schedule: `β` linear from `10⁻⁴` to `0.02` over 1000 levels.
    pub fn ddpm(data: GaussianMixture) -> Result<Self> {
        Self::new(data, &DiscreteSchedule::ddpm_linear(1e-4, 0.02, 1000)?)
    }

    /// The number of levels `N`.
    pub fn levels(&self) -> usize {
        self.betas.len()
    }

    /// `∇log q_t(x)` at level `t`.
    fn score(&self, x: &Array2<f64>, t: usize) -> Result<Array2<f64>> {
        let ab = self.alpha_bars[t];
        self.data.perturbed_score(ab.sqrt(), (1.0 - ab).sqrt(), x.view())
    }

    /// `model(x, t)`: the exact noise prediction `−√(1−ᾱ_t) ∇log q_t(x)`.
    fn eps(&self, x: &Array2<f64>, t: usize) -> Result<Array2<f64>> {
        Ok(self.score(x, t)? * -(1.0 - self.alpha_bars[t]).sqrt())
    }

    /// `x̂₀ = (x − √(1−ᾱ_t) ε̂)/√ᾱ_t` and `ε̂`.
    fn predict(&self, x: &Array2<f64>, t: usize) -> Result<(Array2<f64>, Array2<f64>)> {
        let ab = self.alpha_bars[t];
        let eps = self.eps(x, t)?;
        Ok(((x - &(&eps * (1.0 - ab).sqrt())) / ab.sqrt(), eps))
    }

    /// `n` samples of `listing` in `version`, from `x = torch.randn(n, dim)` with noise from `seed`.
    pub fn sample(&self, listing: Listing, version: Version, n: usize, seed: u64) -> Result<Array2<f64>> {
        if n == 0 {
            return invalid("n", n, "need at least one sample");
        }
        if self.levels() < 50 {
            return invalid("levels", self.levels(), "the listings need at least 50 levels");
        }
        let mut rng = rng::seeded(seed);
        let mut x = rng::normals(&mut rng, n, self.data.dim());
        let (betas, abar) = (&self.betas, &self.alpha_bars);
        match listing {
            Listing::Ddpm => {
                for t in (0..self.levels()).rev() {
                    let (x0, _) = self.predict(&x, t)?;
                    let alpha = |i: usize| 1.0 - betas[i];
                    // The seed's `alpha_{t-1}` (AsWritten) or ᾱ_{t−1} (Corrected), 1 at t = 0.
                    let prev = match (t, version) {
                        (0, _) => 1.0,
                        (_, Version::AsWritten) => alpha(t - 1),
                        (_, Version::Corrected) => abar[t - 1],
                    };
                    let mean = &x0 * (prev.sqrt() * betas[t] / (1.0 - abar[t]))
                        + &x * (alpha(t).sqrt() * (1.0 - prev) / (1.0 - abar[t]));
                    x = if t > 0 { mean + rng::normals(&mut rng, n, x.ncols()) * betas[t].sqrt() } else { mean };
                }
            }
            Listing::Ddim => {
                let stride = match version {
                    Version::AsWritten => 1,
                    Version::Corrected => self.levels() / 50,
                };
                for t in (0..50).rev().map(|k| k * stride) {
                    let (x0, eps) = self.predict(&x, t)?;
                    x = if t > 0 {
                        let prev = abar[t - stride];
                        x0 * prev.sqrt() + eps * (1.0 - prev).sqrt()
                    } else {
                        x0
                    };
                }
            }
            Listing::EulerMaruyama => {
                let dt = 1.0 / self.levels() as f64;
                let levels: Vec<usize> = match version {
                    Version::AsWritten => (0..self.levels()).collect(),
                    Version::Corrected => (0..self.levels()).rev().collect(),
                };
                for t in levels {
                    let score = self.score(&x, t)?;
                    let z = rng::normals(&mut rng, n, x.ncols());
                    x = match version {
                        Version::AsWritten => {
                            let sigma2 = 1.0 - abar[t];
                            &x + &(score * (-0.5 * sigma2 * dt)) + z * (sigma2 * dt).sqrt()
                        }
                        Version::Corrected => &x * (1.0 + 0.5 * betas[t]) + score * betas[t] + z * betas[t].sqrt(),
                    };
                }
            }
        }
        Ok(x)
    }
}

/// One row of [`compare`]: a listing run one way, its samples and their distance to the data.
#[derive(Debug, Clone)]
pub struct ListingRow {
    /// The listing.
    pub listing: Listing,
    /// `"as written"`, `"corrected"`, or the crate's sampler's name.
    pub version: String,
    /// The samples (`n × d`).
    pub samples: Array2<f64>,
    /// Energy distance to `n` fresh data points.
    pub energy: f64,
}

/// Each listing as written, corrected, and the crate's sampler of the same algorithm on the
/// continuous VP SDE with the exact score (`Ddim::ddpm_ancestral(1000)`, `Ddim::new(0.0, 50)`,
/// `ReverseEulerMaruyama::new(1000)`): `n` samples each from `seed`, scored against `n` fresh
/// draws of `data`.
pub fn compare(data: &GaussianMixture, n: usize, seed: u64) -> Result<Vec<ListingRow>> {
    let world = ListingWorld::ddpm(data.clone())?;
    let fresh = data.sample(n, seed.wrapping_add(2));
    let vp = VpSde::default();
    let truth = MixtureMarginal::new(vp, data.clone());
    let mut rows = Vec::new();
    for listing in Listing::ALL {
        let ours: Box<dyn Sampler> = match listing {
            Listing::Ddpm => Box::new(Ddim::ddpm_ancestral(1000)),
            Listing::Ddim => Box::new(Ddim::new(0.0, 50)),
            Listing::EulerMaruyama => Box::new(ReverseEulerMaruyama::new(1000)),
        };
        let runs = [
            ("as written".to_string(), world.sample(listing, Version::AsWritten, n, seed)?),
            ("corrected".to_string(), world.sample(listing, Version::Corrected, n, seed)?),
            (ours.name(), sample_from_prior(ours.as_ref(), &vp, &truth, n, data.dim(), seed)?.last().to_owned()),
        ];
        for (version, samples) in runs {
            let energy = energy_distance(samples.view(), fresh.view())?;
            rows.push(ListingRow { listing, version, samples, energy });
        }
    }
    Ok(rows)
}
