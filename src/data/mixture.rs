//! Gaussian mixtures `p(x) = Σ_k w_k N(x; μ_k, Σ_k)` with exact log-density and score
//! (seed 000 §3.1.1, seed 001 §3.1.6), and their law after the affine perturbation kernel
//! `x_t = α x_0 + σ z` of any forward SDE (seed 001 §3.3): `Σ_k w_k N(α μ_k, α² Σ_k + σ² I)`.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng as _;

use crate::error::{invalid, positive};
use crate::linalg;
use crate::real::Real;
use crate::rng::normal_cdf;
use crate::rng::{self, Rng};
use crate::{Error, Result};

/// A Gaussian mixture in `d` dimensions.
#[derive(Debug, Clone)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Array2<f64>,
    covs: Vec<Array2<f64>>,
    // Cached per component: Cholesky factor, precision, log normaliser.
    chol: Vec<Array2<f64>>,
    prec: Vec<Array2<f64>>,
    log_norm: Vec<f64>,
    // `Some(v)` when every covariance is `v_k I`: the score's allocation-free fast path.
    iso_var: Option<Vec<f64>>,
}

impl GaussianMixture {
    /// A mixture from weights (≥ 0, summing to 1), means (`k × d`) and covariances (`d × d` each).
    pub fn new(weights: Vec<f64>, means: Array2<f64>, covs: Vec<Array2<f64>>) -> Result<Self> {
        let k = weights.len();
        if k == 0 {
            return invalid("weights", "[]", "a mixture needs at least one component");
        }
        if means.nrows() != k || covs.len() != k {
            return Err(Error::Shape(format!(
                "{k} weights, {} means, {} covariances",
                means.nrows(),
                covs.len()
            )));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return invalid(
                "weights",
                format!("{weights:?}"),
                format!("weight {i} = {w} must be finite and ≥ 0"),
            );
        }
        let total: f64 = weights.iter().sum();
        if (total - 1.0).abs() > 1e-9 {
            return invalid(
                "weights",
                format!("{weights:?}"),
                format!("must sum to 1 (they sum to {total})"),
            );
        }
        crate::error::all_finite("the mixture means", means.iter())?;
        let d = means.ncols();
        let mut chol = Vec::with_capacity(k);
        let mut prec = Vec::with_capacity(k);
        let mut log_norm = Vec::with_capacity(k);
        for c in &covs {
            if c.dim() != (d, d) {
                return Err(Error::Shape(format!(
                    "a covariance is {:?}, the means have d = {d}",
                    c.dim()
                )));
            }
            let l = linalg::cholesky("covariance", c.view())?;
            log_norm.push(
                -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + linalg::log_det(l.view())),
            );
            prec.push(linalg::inverse(l.view()));
            chol.push(l);
        }
        let iso_var = covs.iter().map(isotropic_variance).collect();
        Ok(Self {
            weights,
            means,
            covs,
            chol,
            prec,
            log_norm,
            iso_var,
        })
    }

    /// Components with covariance `variance · I`.
    pub fn isotropic(weights: Vec<f64>, means: Array2<f64>, variance: f64) -> Result<Self> {
        positive("variance", variance)?;
        let d = means.ncols();
        let covs = vec![Array2::eye(d) * variance; weights.len()];
        Self::new(weights, means, covs)
    }

    /// A single Gaussian `N(mean, cov)`.
    pub fn gaussian(mean: Array1<f64>, cov: Array2<f64>) -> Result<Self> {
        let d = mean.len();
        Self::new(
            vec![1.0],
            mean.into_shape_with_order((1, d))
                .expect("a vector is 1 × d"),
            vec![cov],
        )
    }

    /// The quickstart's 1-D data: `0.4 N(−2, 0.4²) + 0.6 N(2, 0.4²)`.
    pub fn two_modes_1d() -> Self {
        Self::isotropic(vec![0.4, 0.6], ndarray::array![[-2.0], [2.0]], 0.16)
            .expect("valid constants")
    }

    /// Seed 000's appendix data (A.5): means (1,1), (−1,−1), (0,2), covariance 0.1·I, equal weights.
    pub fn appendix_2d() -> Self {
        Self::isotropic(
            vec![1.0 / 3.0; 3],
            ndarray::array![[1.0, 1.0], [-1.0, -1.0], [0.0, 2.0]],
            0.1,
        )
        .expect("valid constants")
    }

    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// Mixture weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means, `k × d`.
    pub fn means(&self) -> &Array2<f64> {
        &self.means
    }

    /// Component covariances.
    pub fn covs(&self) -> &[Array2<f64>] {
        &self.covs
    }

    /// Mean of the mixture.
    pub fn mean(&self) -> Array1<f64> {
        self.means.t().dot(&Array1::from(self.weights.clone()))
    }

    /// Covariance of the mixture: `Σ_k w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ`.
    pub fn covariance(&self) -> Array2<f64> {
        let m = self.mean();
        let d = self.dim();
        let mut c = Array2::zeros((d, d));
        for (k, w) in self.weights.iter().enumerate() {
            let mk = self.means.row(k);
            c = c + (&self.covs[k] + &outer(mk.to_owned(), mk.to_owned())) * *w;
        }
        c - outer(m.clone(), m)
    }

    /// `n` samples, one per row, from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Array2<f64> {
        self.sample_with(n, &mut rng::seeded(seed))
    }

    /// `n` samples drawn with a given generator.
    pub fn sample_with(&self, n: usize, rng: &mut Rng) -> Array2<f64> {
        self.sample_labelled_with(n, rng).0
    }

    /// `n` samples with the index of the component each came from — the class label when
    /// every component is a class (seed 002 §6: conditional generation). The points are those
    /// of [`Self::sample`] with the same seed.
    pub fn sample_labelled(&self, n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        self.sample_labelled_with(n, &mut rng::seeded(seed))
    }

    /// [`Self::sample_labelled`] with a given generator.
    pub fn sample_labelled_with(&self, n: usize, rng: &mut Rng) -> (Array2<f64>, Vec<usize>) {
        let d = self.dim();
        let z = rng::normals(rng, n, d);
        let mut out = Array2::zeros((n, d));
        let mut labels = Vec::with_capacity(n);
        for (i, mut row) in out.axis_iter_mut(Axis(0)).enumerate() {
            let u: f64 = rng.random();
            let k = pick(&self.weights, u);
            let x = &self.means.row(k) + &self.chol[k].dot(&z.row(i));
            row.assign(&x);
            labels.push(k);
        }
        (out, labels)
    }

    /// Component `k` alone, `N(μ_k, Σ_k)`: the class-conditional law `p(x | y = k)`.
    pub fn component(&self, k: usize) -> Result<Self> {
        let count = self.weights.len();
        if k >= count {
            return invalid(
                "component",
                k,
                format!("the mixture has {count} components (0..{count})"),
            );
        }
        Self::new(
            vec![1.0],
            self.means.slice(ndarray::s![k..k + 1, ..]).to_owned(),
            vec![self.covs[k].clone()],
        )
    }

    /// `log p(y = k | x) = log w_k N(x; μ_k, Σ_k) − log p(x)` per row (`n × k`): the exact
    /// classifier of a labelled mixture (the responsibilities, in logs).
    pub fn log_posterior(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let mut lj = self.log_joint(x)?;
        for mut row in lj.rows_mut() {
            let total = log_sum_exp(row.iter().copied());
            row.mapv_inplace(|v| v - total);
        }
        Ok(lj)
    }

    /// Per-row component log-joint `log w_k + log N(x; μ_k, Σ_k)` (`n × k`), checking `x`'s width.
    fn log_joint(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.dim() {
            return Err(Error::Shape(format!(
                "points have d = {}, the mixture d = {}",
                x.ncols(),
                self.dim()
            )));
        }
        let k = self.weights.len();
        let mut lj = Array2::zeros((x.nrows(), k));
        for c in 0..k {
            let diff = &x - &self.means.row(c);
            let q = (diff.dot(&self.prec[c]) * &diff).sum_axis(Axis(1));
            let lw = self.weights[c].ln();
            lj.column_mut(c)
                .assign(&q.mapv(|q| lw + self.log_norm[c] - 0.5 * q));
        }
        Ok(lj)
    }

    /// `log p(x)` for every row of `x`.
    pub fn log_density(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        let lj = self.log_joint(x)?;
        Ok(lj.map_axis(Axis(1), |r| log_sum_exp(r.iter().copied())))
    }

    /// `∇ₓ log p(x) = Σ_k r_k(x) Σ_k⁻¹ (μ_k − x)`, with responsibilities `r_k` computed stably.
    ///
    /// Batches of `f32` are computed in `f32` when every covariance is isotropic (the fast
    /// kernel, as the samplers use it), otherwise in `f64` and rounded.
    pub fn score<F: Real>(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        if let Some(var) = &self.iso_var {
            return self.score_isotropic(x, var);
        }
        let s = self.score_general(x.mapv(F::to_f64_exact).view())?;
        Ok(s.mapv(F::of))
    }

    /// The score of [`Self::perturbed`]`(alpha, sigma)` without building that mixture when
    /// every covariance is `v_k I` (then `p_t`'s are `α² v_k + σ²`, computed as `perturbed`
    /// does, so the numbers are the same): what [`crate::framework::MixtureMarginal`] calls
    /// on every step of a sampler.
    pub fn perturbed_score<F: Real>(
        &self,
        alpha: f64,
        sigma: f64,
        x: ArrayView2<F>,
    ) -> Result<Array2<F>> {
        let d = self.dim();
        let var: Option<Vec<f64>> = self.iso_var.as_ref().and_then(|v0| {
            let v: Vec<f64> = v0
                .iter()
                .map(|v| v * (alpha * alpha) + 1.0 * (sigma * sigma))
                .collect();
            (alpha.is_finite() && v.iter().all(|v| v.is_finite() && *v > 0.0)).then_some(v)
        });
        let Some(var) = var else {
            return self.perturbed(alpha, sigma)?.score(x);
        };
        check_width(x.ncols(), d)?;
        let ln_2pi = (2.0 * std::f64::consts::PI).ln();
        let parts = IsotropicParts {
            // log N's normaliser as `new` computes it from the Cholesky factor √v · I.
            offset: (0..self.weights.len())
                .map(|c| {
                    let log_det = 2.0 * (0..d).map(|_| var[c].sqrt().ln()).sum::<f64>();
                    self.weights[c].ln() + -0.5 * (d as f64 * ln_2pi + log_det)
                })
                .collect(),
            inv_var: var.iter().map(|v| 1.0 / v).collect(),
            means: (&self.means * alpha).as_standard_layout().into_owned(),
        };
        Ok(isotropic_score(&parts, x))
    }

    fn score_general(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let lj = self.log_joint(x)?;
        let mut s = Array2::zeros(x.dim());
        let resp = lj.map_axis(Axis(1), |r| log_sum_exp(r.iter().copied()));
        for c in 0..self.weights.len() {
            let r = (&lj.column(c) - &resp).mapv(f64::exp).insert_axis(Axis(1));
            let pull = (-(&x - &self.means.row(c))).dot(&self.prec[c]);
            s = s + pull * &r;
        }
        Ok(s)
    }

    /// Responsibilities `r_k(x)` (`n × k`) and pulls `a_k = Σ_k⁻¹ (μ_k − x)` (one `n × d` per
    /// component): the score is `s = Σ_k r_k a_k`.
    fn responsibilities_and_pulls(
        &self,
        x: ArrayView2<f64>,
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        let lj = self.log_joint(x)?;
        let total = lj.map_axis(Axis(1), |r| log_sum_exp(r.iter().copied()));
        let resp = (&lj - &total.insert_axis(Axis(1))).mapv(f64::exp);
        let pulls = (0..self.weights.len())
            .map(|c| (-(&x - &self.means.row(c))).dot(&self.prec[c]))
            .collect();
        Ok((resp, pulls))
    }

    /// The score and the Hessian–vector products `H v` of `log p` for every probe batch `v`
    /// (`n × d`): with `r_k` the responsibilities and `a_k = Σ_k⁻¹ (μ_k − x)`,
    /// `H = Σ_k r_k (a_k a_kᵀ − Σ_k⁻¹) − s sᵀ` (symmetric, so `H v = vᵀ H`).
    pub fn score_hvp(
        &self,
        x: ArrayView2<f64>,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        if let Some(v) = probes.iter().find(|v| v.dim() != x.dim()) {
            return Err(Error::Shape(format!(
                "a probe is {:?}, the points are {:?}",
                v.dim(),
                x.dim()
            )));
        }
        let (resp, pulls) = self.responsibilities_and_pulls(x)?;
        let mut s = Array2::zeros(x.dim());
        for (c, a) in pulls.iter().enumerate() {
            s += &(a * &resp.column(c).insert_axis(Axis(1)));
        }
        let products = probes
            .iter()
            .map(|v| {
                let dot = |a: &Array2<f64>| (a * v).sum_axis(Axis(1)).insert_axis(Axis(1));
                let mut hv = -(&s * &dot(&s));
                for (c, a) in pulls.iter().enumerate() {
                    let r = resp.column(c).insert_axis(Axis(1));
                    hv += &((a * &dot(a) - v.dot(&self.prec[c])) * r);
                }
                hv
            })
            .collect();
        Ok((s, products))
    }

    /// The score and the Laplacian `Δ log p = tr H = Σ_k r_k (‖a_k‖² − tr Σ_k⁻¹) − ‖s‖²`
    /// per row (the divergence of the score).
    pub fn score_laplacian(&self, x: ArrayView2<f64>) -> Result<(Array2<f64>, Array1<f64>)> {
        let (resp, pulls) = self.responsibilities_and_pulls(x)?;
        let mut s = Array2::zeros(x.dim());
        let mut lap = Array1::zeros(x.nrows());
        for (c, a) in pulls.iter().enumerate() {
            let r = resp.column(c);
            s += &(a * &r.insert_axis(Axis(1)));
            let trace = self.prec[c].diag().sum();
            lap += &((&a.mapv(|v| v * v).sum_axis(Axis(1)) - trace) * r);
        }
        lap -= &s.mapv(|v| v * v).sum_axis(Axis(1));
        Ok((s, lap))
    }

    /// [`Self::score`] when every covariance is `v_k I`, written for speed (the reverse-SDE
    /// samplers call it every step for every particle): see [`isotropic_score`].
    fn score_isotropic<F: Real>(&self, x: ArrayView2<F>, var: &[f64]) -> Result<Array2<F>> {
        check_width(x.ncols(), self.dim())?;
        let parts = IsotropicParts {
            offset: (0..self.weights.len())
                .map(|c| self.weights[c].ln() + self.log_norm[c])
                .collect(),
            inv_var: var.iter().map(|v| 1.0 / v).collect(),
            means: self.means.as_standard_layout().into_owned(),
        };
        Ok(isotropic_score(&parts, x))
    }

    /// The cumulative distribution function of a 1-D mixture, `Σ_k w_k Φ((x − μ_k)/s_k)`.
    pub fn cdf_1d(&self, x: f64) -> Result<f64> {
        if self.dim() != 1 {
            return invalid("dim", self.dim(), "cdf_1d needs a 1-D mixture");
        }
        Ok(self
            .weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * normal_cdf((x - self.means[[k, 0]]) / self.chol[k][[0, 0]]))
            .sum())
    }

    /// The Kolmogorov–Smirnov distance `sup_x |F_n(x) − F(x)|` between the empirical CDF of a
    /// 1-D sample (`n × 1`) and this 1-D mixture. Under `H₀` (the sample is from this law) it
    /// exceeds `1.95/√n` with probability about 0.1 %.
    pub fn ks_distance(&self, samples: ArrayView2<f64>) -> Result<f64> {
        if samples.ncols() != 1 || samples.nrows() == 0 {
            return Err(Error::Shape(format!(
                "the KS distance needs a non-empty n × 1 sample, got {:?}",
                samples.dim()
            )));
        }
        crate::error::all_finite("the KS sample", samples.iter())?;
        let mut v: Vec<f64> = samples.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut d: f64 = 0.0;
        for (i, &x) in v.iter().enumerate() {
            let f = self.cdf_1d(x)?;
            d = d
                .max((f - i as f64 / n).abs())
                .max((f - (i + 1) as f64 / n).abs());
        }
        Ok(d)
    }

    /// The law of `α x + σ z` for `x` from this mixture and `z ~ N(0, I)`:
    /// `Σ_k w_k N(α μ_k, α² Σ_k + σ² I)` (the perturbation kernel of seed 001 §3.3).
    pub fn perturbed(&self, alpha: f64, sigma: f64) -> Result<Self> {
        crate::error::finite("alpha", alpha)?;
        if !(sigma.is_finite() && sigma >= 0.0) {
            return invalid("sigma", sigma, "must be finite and ≥ 0");
        }
        let d = self.dim();
        let covs = self
            .covs
            .iter()
            .map(|c| c * (alpha * alpha) + Array2::<f64>::eye(d) * (sigma * sigma))
            .collect();
        Self::new(self.weights.clone(), &self.means * alpha, covs)
    }
}

fn check_width(got: usize, d: usize) -> Result<()> {
    if got == d {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "points have d = {got}, the mixture d = {d}"
        )))
    }
}

/// What the isotropic score needs per component `c`: `log w_c + log N`'s normaliser, `1/v_c`, `μ_c`.
struct IsotropicParts {
    offset: Vec<f64>,
    inv_var: Vec<f64>,
    means: Array2<f64>,
}

/// `s(x_i) = Σ_c r_ic (μ_c − x_i)/v_c`, `r_ic ∝ w_c N(x_i; μ_c, v_c I)`, for every row.
///
/// Laid out for the vector units: the batch goes through in tiles of [`SCORE_TILE`] rows, each
/// transposed to one short array per coordinate, so every loop runs over particles with unit
/// stride, exponentials included ([`Real::exp_nonpositive`]), and a tile's intermediates stay
/// in the first-level cache (one scratch allocation per call). On x86-64 CPUs with AVX2 and
/// FMA the same code is compiled a second time for them and chosen at run time. In `f32` a
/// vector holds twice as many particles as in `f64`. Each row's result depends on that row
/// alone, whatever the tiling.
fn isotropic_score<F: Real>(parts: &IsotropicParts, x: ArrayView2<F>) -> Array2<F> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        return unsafe { isotropic_score_avx2(parts, x) };
    }
    isotropic_score_kernel::<F, false>(parts, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn isotropic_score_avx2<F: Real>(parts: &IsotropicParts, x: ArrayView2<F>) -> Array2<F> {
    isotropic_score_kernel::<F, true>(parts, x)
}

/// Rows per tile of [`isotropic_score`].
const SCORE_TILE: usize = 128;

#[inline(always)]
fn isotropic_score_kernel<F: Real, const FMA: bool>(
    parts: &IsotropicParts,
    x: ArrayView2<F>,
) -> Array2<F> {
    let (n, d) = x.dim();
    let k = parts.offset.len();
    let offset: Vec<F> = parts.offset.iter().map(|v| F::of(*v)).collect();
    let inv_var: Vec<F> = parts.inv_var.iter().map(|v| F::of(*v)).collect();
    let means = parts.means.mapv(F::of);
    let mut out = Array2::zeros((n, d));
    let mut scratch = vec![F::zero(); (2 * d + k + 3) * SCORE_TILE];
    let (xt, rest) = scratch.split_at_mut(d * SCORE_TILE);
    let (e, rest) = rest.split_at_mut(k * SCORE_TILE);
    let (acc, rest) = rest.split_at_mut(d * SCORE_TILE);
    let (top, rest) = rest.split_at_mut(SCORE_TILE);
    let (total, pull) = rest.split_at_mut(SCORE_TILE);
    for (x, mut out) in x
        .axis_chunks_iter(Axis(0), SCORE_TILE)
        .zip(out.axis_chunks_iter_mut(Axis(0), SCORE_TILE))
    {
        let m = x.nrows();
        // Coordinates as rows: xt[j·m + i] = x_ij.
        let xt = &mut xt[..d * m];
        match x.as_slice() {
            Some(rows) if d == 2 => {
                let (c0, c1) = xt.split_at_mut(m);
                for ((a, b), r) in c0.iter_mut().zip(c1).zip(rows.chunks_exact(2)) {
                    (*a, *b) = (r[0], r[1]);
                }
            }
            _ => {
                for (j, col) in xt.chunks_exact_mut(m).enumerate() {
                    for (v, x) in col.iter_mut().zip(x.column(j)) {
                        *v = *x;
                    }
                }
            }
        }
        // e[c·m + i] = exp(logit_ic − max_c logit_ic). The first component's passes start the
        // sums (`−∞ max l`, `0 + …`: the values a filled start gives, without the fill).
        let (e, top) = (&mut e[..k * m], &mut top[..m]);
        for (c, ec) in e.chunks_exact_mut(m).enumerate() {
            let half_inv = F::of(0.5) * inv_var[c];
            let mu = means.row(c);
            let (col, mu0) = (&xt[..m], mu[0]);
            for (l, &x) in ec.iter_mut().zip(col) {
                *l = offset[c] - half_inv * (x - mu0) * (x - mu0);
            }
            for (col, &mu) in xt.chunks_exact(m).zip(mu).skip(1) {
                for (l, &x) in ec.iter_mut().zip(col) {
                    *l = *l - half_inv * (x - mu) * (x - mu);
                }
            }
            // `max` ignores a NaN logit (which the result shows anyway), as `l > t` would.
            let start = c == 0;
            for (t, &l) in top.iter_mut().zip(ec.iter()) {
                *t = if start { F::neg_infinity() } else { *t }.max(l);
            }
        }
        // total_i = Σ_c e_ic, pull_i = Σ_c e_ic / v_c (in the exponentials' pass),
        // acc_ji = Σ_c e_ic μ_cj / v_c.
        let (total, pull, acc) = (&mut total[..m], &mut pull[..m], &mut acc[..d * m]);
        for (c, ec) in e.chunks_exact_mut(m).enumerate() {
            let (inv, start) = (inv_var[c], c == 0);
            let sum = |s: F| if start { F::zero() } else { s };
            for (((l, &t), tot), p) in ec
                .iter_mut()
                .zip(top.iter())
                .zip(total.iter_mut())
                .zip(pull.iter_mut())
            {
                let e = F::exp_nonpositive::<FMA>(*l - t);
                *l = e;
                *tot = sum(*tot) + e;
                *p = sum(*p) + e * inv;
            }
            for (col, &mu) in acc.chunks_exact_mut(m).zip(means.row(c)) {
                let w = inv * mu;
                for (a, &e) in col.iter_mut().zip(ec.iter()) {
                    *a = sum(*a) + e * w;
                }
            }
        }
        // The score, still one row per coordinate (unit stride), then back to one row per particle.
        for (a, xcol) in acc.chunks_exact_mut(m).zip(xt.chunks_exact(m)) {
            for (((a, &x), &p), &tot) in a.iter_mut().zip(xcol).zip(pull.iter()).zip(total.iter()) {
                *a = (*a - p * x) / tot;
            }
        }
        match out.as_slice_mut() {
            Some(rows) if d == 2 => {
                let (c0, c1) = acc.split_at(m);
                for ((r, &a), &b) in rows.chunks_exact_mut(2).zip(c0).zip(c1) {
                    (r[0], r[1]) = (a, b);
                }
            }
            _ => {
                for (j, col) in acc.chunks_exact(m).enumerate() {
                    for (o, &a) in out.column_mut(j).iter_mut().zip(col) {
                        *o = a;
                    }
                }
            }
        }
    }
    out
}

/// `Some(v)` if `c = v I` exactly.
fn isotropic_variance(c: &Array2<f64>) -> Option<f64> {
    let v = c[[0, 0]];
    c.indexed_iter()
        .all(|((i, j), &x)| if i == j { x == v } else { x == 0.0 })
        .then_some(v)
}

fn outer(a: Array1<f64>, b: Array1<f64>) -> Array2<f64> {
    let n = a.len();
    let m = b.len();
    a.into_shape_with_order((n, 1))
        .unwrap()
        .dot(&b.into_shape_with_order((1, m)).unwrap())
}

fn pick(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (k, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return k;
        }
    }
    weights.len() - 1
}

/// `log Σ exp(v)` without overflow.
pub fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn skewed_2d() -> GaussianMixture {
        GaussianMixture::new(
            vec![0.3, 0.7],
            array![[-1.0, 0.5], [2.0, -1.0]],
            vec![
                array![[0.5, 0.2], [0.2, 0.3]],
                array![[1.0, -0.4], [-0.4, 0.8]],
            ],
        )
        .unwrap()
    }

    /// `H v` against central differences `(s(x + h v) − s(x − h v)) / 2h` (truncation
    /// `O(h²)` ≈ 1e-8 at h = 1e-4, rounding ≈ 1e-16/h ≈ 1e-12: tolerance 1e-6), and the
    /// Laplacian against the trace of `H` built column by column from `H e_k`.
    #[test]
    fn hessian_products_match_differences_of_the_score() {
        let m = skewed_2d();
        let x = array![[0.3, -0.2], [-1.5, 1.0], [2.5, -0.5], [4.0, 3.0]];
        let v = array![[1.0, -2.0], [0.5, 0.5], [-1.0, 0.3], [0.2, 1.0]];
        let (s, hv) = m.score_hvp(x.view(), &[v.view()]).unwrap();
        assert!((&s - &m.score(x.view()).unwrap())
            .iter()
            .all(|e| e.abs() < 1e-12));
        let h = 1e-4;
        let fd = (m.score((&x + &(&v * h)).view()).unwrap()
            - m.score((&x - &(&v * h)).view()).unwrap())
            / (2.0 * h);
        let err = (&hv[0] - &fd).iter().fold(0.0f64, |a, e| a.max(e.abs()));
        assert!(err < 1e-6, "H v vs differences: {err}");
        let e0 = array![[1.0, 0.0]].broadcast((4, 2)).unwrap().to_owned();
        let e1 = array![[0.0, 1.0]].broadcast((4, 2)).unwrap().to_owned();
        let (_, cols) = m.score_hvp(x.view(), &[e0.view(), e1.view()]).unwrap();
        let trace = &cols[0].column(0) + &cols[1].column(1);
        let (_, lap) = m.score_laplacian(x.view()).unwrap();
        assert!(
            (&lap - &trace).iter().all(|e| e.abs() < 1e-10),
            "{lap} {trace}"
        );
        assert!(m.score_hvp(x.view(), &[array![[1.0, 2.0]].view()]).is_err());
    }

    #[test]
    fn score_matches_finite_differences_of_log_density() {
        let m = skewed_2d();
        let x = m.sample(50, 1);
        let s = m.score(x.view()).unwrap();
        let h = 1e-5;
        for j in 0..2 {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp.column_mut(j).mapv_inplace(|v| v + h);
            xm.column_mut(j).mapv_inplace(|v| v - h);
            let fd =
                (m.log_density(xp.view()).unwrap() - m.log_density(xm.view()).unwrap()) / (2.0 * h);
            for i in 0..50 {
                assert!(
                    (fd[i] - s[[i, j]]).abs() < 1e-6,
                    "row {i} comp {j}: fd {} vs {}",
                    fd[i],
                    s[[i, j]]
                );
            }
        }
    }

    #[test]
    fn isotropic_fast_score_equals_the_general_formula() {
        // The same mixture with a covariance perturbed by 1e-300 off the diagonal takes the
        // general path; the two scores agree to rounding.
        let m = GaussianMixture::appendix_2d();
        let mut covs = m.covs().to_vec();
        covs[0][[0, 1]] = 1e-300;
        covs[0][[1, 0]] = 1e-300;
        let general = GaussianMixture::new(m.weights().to_vec(), m.means().clone(), covs).unwrap();
        assert!(m.iso_var.is_some() && general.iso_var.is_none());
        let x = m.sample(200, 4) * 3.0;
        let (a, b) = (m.score(x.view()).unwrap(), general.score(x.view()).unwrap());
        assert!(
            (&a - &b).iter().all(|v| v.abs() < 1e-9),
            "{}",
            (&a - &b).fold(0.0_f64, |m, v| m.max(v.abs()))
        );
        // A non-contiguous view takes the same path.
        let xt = x.t().to_owned();
        assert_eq!(m.score(xt.t()).unwrap(), a);
        // The portable kernel (what CPUs without AVX2 run) agrees with the dispatched one.
        let parts = IsotropicParts {
            offset: (0..3).map(|c| m.weights[c].ln() + m.log_norm[c]).collect(),
            inv_var: vec![10.0; 3],
            means: m.means.clone(),
        };
        let portable = isotropic_score_kernel::<f64, false>(&parts, x.view());
        assert!((&portable - &a).iter().all(|v| v.abs() < 1e-12));
        // A row's score is its own, whatever tile it falls in.
        let part = m.score(x.slice(ndarray::s![77..190, ..])).unwrap();
        assert_eq!(part, a.slice(ndarray::s![77..190, ..]));
    }

    #[test]
    fn isotropic_fast_score_in_one_and_three_dimensions() {
        // Other widths than the 2-D fast path, against the formula written out per row:
        // s(x) = Σ_c r_c (μ_c − x) / v_c with r ∝ w_c N(x; μ_c, v_c I).
        for d in [1, 3] {
            let means = Array2::from_shape_fn((4, d), |(c, j)| c as f64 - 1.5 + 0.3 * j as f64);
            let (weights, v) = (vec![0.1, 0.2, 0.3, 0.4], 0.3);
            let iso = GaussianMixture::isotropic(weights.clone(), means.clone(), v).unwrap();
            assert!(iso.iso_var.is_some());
            let x = iso.sample(300, 5);
            let s = iso.score(x.view()).unwrap();
            let s32 = iso
                .perturbed_score(1.0, 0.0, x.mapv(|v| v as f32).view())
                .unwrap();
            for (i, row) in x.outer_iter().enumerate() {
                let log_r: Vec<f64> = (0..4)
                    .map(|c| {
                        weights[c].ln() - (&row - &means.row(c)).mapv(|u| u * u).sum() / (2.0 * v)
                    })
                    .collect();
                let top = log_r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let r: Vec<f64> = log_r.iter().map(|l| (l - top).exp()).collect();
                let total: f64 = r.iter().sum();
                for j in 0..d {
                    let want: f64 = (0..4)
                        .map(|c| r[c] * (means[[c, j]] - row[j]) / v)
                        .sum::<f64>()
                        / total;
                    assert!(
                        (s[[i, j]] - want).abs() < 1e-9,
                        "d = {d}, row {i}: {} vs {want}",
                        s[[i, j]]
                    );
                    let err32 = (f64::from(s32[[i, j]]) - want).abs();
                    assert!(
                        err32 < 1e-4 * (1.0 + want.abs()),
                        "d = {d}, f32, row {i}: {err32}"
                    );
                }
            }
        }
    }

    #[test]
    fn density_integrates_to_one_on_a_grid() {
        let m = GaussianMixture::two_modes_1d();
        let xs = Array2::from_shape_fn((4001, 1), |(i, _)| -6.0 + 12.0 * i as f64 / 4000.0);
        let total: f64 = m.log_density(xs.view()).unwrap().mapv(f64::exp).sum() * 12.0 / 4000.0;
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn sample_moments_match_mixture_moments() {
        // Tolerance from the sample size: 5 standard errors of each mean component.
        let m = skewed_2d();
        let n = 40_000;
        let x = m.sample(n, 3);
        let cov = m.covariance();
        let mean = x.mean_axis(Axis(0)).unwrap();
        for j in 0..2 {
            let se = (cov[[j, j]] / n as f64).sqrt();
            assert!(
                (mean[j] - m.mean()[j]).abs() < 5.0 * se,
                "mean {j}: {} vs {}",
                mean[j],
                m.mean()[j]
            );
        }
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_543),
            (-1.959_963_984_540_054, 0.025),
            (3.0, 0.998_650_101_968_37),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 2e-7,
                "Φ({z}) = {} vs {p}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn perturbed_is_the_law_of_alpha_x_plus_sigma_z() {
        let m = skewed_2d();
        let p = m.perturbed(0.5, 2.0).unwrap();
        assert_eq!(p.means(), &(m.means() * 0.5));
        let expected = &m.covs()[1] * 0.25 + Array2::<f64>::eye(2) * 4.0;
        assert!((&p.covs()[1] - &expected).iter().all(|v| v.abs() < 1e-12));
        // α = 1, σ = 0 changes nothing.
        let same = m.perturbed(1.0, 0.0).unwrap();
        let x = m.sample(10, 2);
        assert_eq!(same.score(x.view()).unwrap(), m.score(x.view()).unwrap());
    }

    #[test]
    fn bad_mixtures_are_errors_naming_the_value() {
        let e = GaussianMixture::isotropic(vec![0.5, 0.6], array![[0.0], [1.0]], 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sum to 1") && e.contains("0.6"), "{e}");
        let e = GaussianMixture::isotropic(vec![1.5, -0.5], array![[0.0], [1.0]], 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("-0.5"), "{e}");
        assert!(GaussianMixture::isotropic(vec![1.0], array![[0.0]], 0.0).is_err());
        assert!(GaussianMixture::two_modes_1d()
            .score(array![[0.0, 1.0]].view())
            .is_err());
        assert!(
            GaussianMixture::gaussian(array![0.0, 0.0], array![[1.0, 1.0], [1.0, 1.0]]).is_err()
        );
    }
}
