//! Seed 000 §4.7's extensions, each checked against an exact answer that a Gaussian mixture
//! gives in closed form.
//!
//! - **§4.7.1 conditional generation.** The seed writes the condition into the forward drift,
//!   `dx = f(x, c, t) dt + G dW`. In practice the forward process is the same for every `c`
//!   (noise does not know the label); the condition enters the reverse process through the
//!   conditional score, by Bayes `∇log p_t(x | c) = ∇log p_t(x) + ∇log p_t(c | x)`. For a
//!   labelled mixture `p_t(x | c)` is component `c` pushed through the kernel:
//!   [`class_conditional`].
//! - **§4.7.2 multimodal generation.** Two coupled "modalities" `(x₁, x₂)` diffused jointly; to
//!   generate `x₁` given an observed `x₂ = a`, score_sde's imputation (Song et al. 2021, App. I.2)
//!   runs the joint reverse SDE and after every step replaces the observed part by a forward-noised
//!   copy `α_t a + σ_t ε` ([`impute`]). It is an approximation: the unobserved part sees a fresh
//!   random `x₂(t)` at each step rather than one consistent with `a`. The exact alternative
//!   diffuses `x₁` alone with the conditional score of `p_t(x₁ | x₂ = a)` ([`conditional`] gives
//!   that law in closed form).
//! - **§4.7.3 controllable generation.** Energy guidance adds `−λ∇E(x)` to the score. The target
//!   `p̃(x) ∝ p(x) e^{−λE(x)}` of a mixture and a quadratic `E(x) = ½‖x − c‖²` is again a mixture
//!   ([`tilt`]); its noised marginals have their own score, which is not `s_t(x) − λ∇E(x)` —
//!   the time-independent gradient added at every `t` ([`EnergyGuided`]) samples another law.

use ndarray::{Array1, Array2, ArrayView2};

use crate::data::GaussianMixture;
use crate::error::{finite, invalid};
use crate::framework::{ForwardSde, MixtureMarginal};
use crate::linalg;
use crate::rng;
use crate::sde_basics::{ReverseSde, Score};
use crate::solvers::{EulerMaruyama, SdeScheme, TimeGrid};
use crate::{Error, Result};

/// The exact conditional score of class `class`: component `class` of `data` pushed through
/// `sde`'s kernel, `∇log p_t(x | c)` (§4.7.1).
pub fn class_conditional<S: ForwardSde>(
    sde: S,
    data: &GaussianMixture,
    class: usize,
) -> Result<MixtureMarginal<S>> {
    Ok(MixtureMarginal::new(sde, data.component(class)?))
}

/// `p(x_u | x_o = values)` of a Gaussian mixture, `u` the columns not in `observed`: for each
/// component the Gaussian conditional `N(μ_u + Σ_uo Σ_oo⁻¹ (a − μ_o), Σ_uu − Σ_uo Σ_oo⁻¹ Σ_ou)`,
/// re-weighted by how well the component explains the observation, `w_k N(a; μ_o, Σ_oo)`.
pub fn conditional(
    mixture: &GaussianMixture,
    observed: &[usize],
    values: &[f64],
) -> Result<GaussianMixture> {
    let d = mixture.dim();
    if observed.is_empty() || observed.len() >= d || observed.len() != values.len() {
        return invalid(
            "observed",
            format!("{observed:?} with values {values:?}"),
            format!("need 1..{d} observed columns of the {d}, one value each"),
        );
    }
    let mut sorted = observed.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != observed.len() || sorted[sorted.len() - 1] >= d {
        return invalid(
            "observed",
            format!("{observed:?}"),
            format!("columns must be distinct and < {d}"),
        );
    }
    for &v in values {
        finite("values", v)?;
    }
    let free: Vec<usize> = (0..d).filter(|j| !observed.contains(j)).collect();
    let a = Array1::from(values.to_vec());
    let pick = |m: &Array2<f64>, r: &[usize], c: &[usize]| {
        Array2::from_shape_fn((r.len(), c.len()), |(i, j)| m[[r[i], c[j]]])
    };
    let mut log_w = Vec::new();
    let mut means = Array2::zeros((mixture.weights().len(), free.len()));
    let mut covs = Vec::new();
    for (k, (&w, cov)) in mixture.weights().iter().zip(mixture.covs()).enumerate() {
        let mu = mixture.means().row(k);
        let mu_o = Array1::from_iter(observed.iter().map(|&j| mu[j]));
        let mu_u = Array1::from_iter(free.iter().map(|&j| mu[j]));
        let l = linalg::cholesky("Σ_oo", pick(cov, observed, observed).view())?;
        let prec_oo = linalg::inverse(l.view());
        let gain = pick(cov, &free, observed).dot(&prec_oo); // Σ_uo Σ_oo⁻¹
        let diff = &a - &mu_o;
        means.row_mut(k).assign(&(&mu_u + &gain.dot(&diff)));
        covs.push(pick(cov, &free, &free) - gain.dot(&pick(cov, observed, &free)));
        let quad = diff.dot(&prec_oo.dot(&diff));
        let o = observed.len() as f64;
        log_w.push(
            w.ln()
                - 0.5 * quad
                - 0.5 * linalg::log_det(l.view())
                - 0.5 * o * (2.0 * std::f64::consts::PI).ln(),
        );
    }
    let top = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = log_w.iter().map(|v| (v - top).exp()).collect();
    let total: f64 = raw.iter().sum();
    GaussianMixture::new(raw.iter().map(|v| v / total).collect(), means, covs)
}

/// §4.7.2's two coupled modalities: `x₁` (column 0) and `x₂` (column 1) strongly correlated
/// within each of two modes, `½ N((−1, −1), Σ) + ½ N((1.5, 1.5), Σ)`, `Σ = [[0.3, 0.27], [0.27, 0.3]]`.
pub fn coupled_pair() -> GaussianMixture {
    let cov = ndarray::array![[0.3, 0.27], [0.27, 0.3]];
    GaussianMixture::new(
        vec![0.5, 0.5],
        ndarray::array![[-1.0, -1.0], [1.5, 1.5]],
        vec![cov.clone(), cov],
    )
    .expect("valid constants")
}

/// Imputation (score_sde's "replacement" method, §4.7.2): the reverse SDE of `sde` with the
/// *joint* score, Euler–Maruyama on `steps` uniform steps from `T` to `t_eps`, the columns
/// `observed` replaced after every step by `α_t a + σ_t ε` (fresh `ε`), and by `a` at the end.
/// Returns the `n × d` final states (the unobserved columns are the imputation).
#[allow(clippy::too_many_arguments)]
pub fn impute(
    sde: &dyn ForwardSde,
    joint_score: &dyn Score,
    observed: &[usize],
    values: &[f64],
    n: usize,
    steps: usize,
    t_eps: f64,
    seed: u64,
) -> Result<Array2<f64>> {
    if observed.len() != values.len() || observed.is_empty() {
        return invalid(
            "observed",
            format!("{observed:?} with values {values:?}"),
            "need at least one observed column, one value each",
        );
    }
    let d = 1 + *observed.iter().max().expect("not empty");
    let grid = TimeGrid::uniform(sde.t_max(), t_eps, steps)?;
    let mut rng = rng::seeded(seed);
    let mut x = sde.prior_sample(n, d, &mut rng);
    let reverse = ReverseSde::new(sde, joint_score);
    let replace = |x: &mut Array2<f64>, t: f64, rng: &mut rng::Rng| -> Result<()> {
        let (alpha, sigma) = if t <= t_eps { (1.0, 0.0) } else { sde.marginal_mean_std(t)? };
        let e = rng::normals(rng, x.nrows(), observed.len());
        for (j, (&col, &a)) in observed.iter().zip(values).enumerate() {
            x.column_mut(col)
                .assign(&(e.column(j).mapv(|v| alpha * a + sigma * v)));
        }
        Ok(())
    };
    replace(&mut x, sde.t_max(), &mut rng)?;
    let times = grid.times();
    for w in times.windows(2) {
        let dt = w[1] - w[0];
        let dw = rng::normals(&mut rng, n, d) * dt.abs().sqrt();
        EulerMaruyama.step_in_place(&reverse, &mut x, w[0], dt, dw.view())?;
        replace(&mut x, w[1], &mut rng)?;
    }
    crate::error::all_finite("the imputed samples", x.iter())?;
    Ok(x)
}

/// `p̃(x) ∝ p(x) e^{−λ E(x)}` with `E(x) = ½‖x − c‖²`, exactly (§4.7.3): each component
/// `N(μ_k, Σ_k)` becomes `N(m_k, C_k)` with `C_k = (Σ_k⁻¹ + λI)⁻¹`,
/// `m_k = C_k (Σ_k⁻¹ μ_k + λ c)`, and weight `∝ w_k N(c; μ_k, Σ_k + I/λ)`. Errors on `λ < 0`.
pub fn tilt(mixture: &GaussianMixture, lambda: f64, centre: &[f64]) -> Result<GaussianMixture> {
    check_energy(lambda, centre, mixture.dim())?;
    if lambda == 0.0 {
        return Ok(mixture.clone());
    }
    let d = mixture.dim();
    let c = Array1::from(centre.to_vec());
    let eye = Array2::<f64>::eye(d);
    let mut means = Array2::zeros((mixture.weights().len(), d));
    let mut covs = Vec::new();
    let mut log_w = Vec::new();
    for (k, (&w, cov)) in mixture.weights().iter().zip(mixture.covs()).enumerate() {
        let mu = mixture.means().row(k).to_owned();
        let prec = linalg::inverse(linalg::cholesky("Σ_k", cov.view())?.view());
        let c_k = linalg::inverse(linalg::cholesky("C_k", (&prec + &(&eye * lambda)).view())?.view());
        means
            .row_mut(k)
            .assign(&c_k.dot(&(prec.dot(&mu) + &c * lambda)));
        covs.push(c_k);
        let wide = linalg::cholesky("Σ_k + I/λ", (cov + &(&eye / lambda)).view())?;
        let diff = &c - &mu;
        let quad = diff.dot(&linalg::inverse(wide.view()).dot(&diff));
        log_w.push(w.ln() - 0.5 * quad - 0.5 * linalg::log_det(wide.view()));
    }
    let top = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = log_w.iter().map(|v| (v - top).exp()).collect();
    let total: f64 = raw.iter().sum();
    GaussianMixture::new(raw.iter().map(|v| v / total).collect(), means, covs)
}

fn check_energy(lambda: f64, centre: &[f64], d: usize) -> Result<()> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return invalid("lambda (λ)", lambda, "the guidance strength must be finite and ≥ 0");
    }
    if centre.len() != d || centre.iter().any(|v| !v.is_finite()) {
        return invalid(
            "centre",
            format!("{centre:?}"),
            format!("need {d} finite coordinates"),
        );
    }
    Ok(())
}

/// Energy guidance as the seed's §4.7.3 suggests it: the score `s_t(x) − λ ∇E(x)` with the
/// time-independent `∇E(x) = x − c` at every `t` (§4.7.3). Exact only at `t = 0`; at larger `t`
/// the correct term is `∇log E[e^{−λE(x₀)} | x_t]`, which [`tilt`]'s marginals contain.
pub struct EnergyGuided<S> {
    score: S,
    lambda: f64,
    centre: Array1<f64>,
}

impl<S: Score> EnergyGuided<S> {
    /// `score − λ (x − centre)`. Errors on `λ < 0` or a non-finite centre.
    pub fn new(score: S, lambda: f64, centre: &[f64]) -> Result<Self> {
        check_energy(lambda, centre, centre.len())?;
        Ok(Self {
            score,
            lambda,
            centre: Array1::from(centre.to_vec()),
        })
    }
}

impl<S: Score> Score for EnergyGuided<S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        if x.ncols() != self.centre.len() {
            return Err(Error::Shape(format!(
                "points of dimension {}, the energy's centre has {}",
                x.ncols(),
                self.centre.len()
            )));
        }
        let s = self.score.score(x, t)?;
        Ok(s - &((&x - &self.centre) * self.lambda))
    }
}

/// The unobserved columns of `x` (all but `observed`), for comparing an imputation with the
/// conditional law.
pub fn unobserved(x: ArrayView2<f64>, observed: &[usize]) -> Array2<f64> {
    let free: Vec<usize> = (0..x.ncols()).filter(|j| !observed.contains(j)).collect();
    Array2::from_shape_fn((x.nrows(), free.len()), |(i, j)| x[[i, free[j]]])
}
