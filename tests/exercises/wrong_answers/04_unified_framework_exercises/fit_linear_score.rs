// Wrong answer: the σ in the denominator forgotten (regressing x_t onto z instead of onto z/σ).
// submission: A
// expect: failed
fn fit_linear_score(x0: ArrayView2<f64>, sde: &VpSde, t: f64, seed: u64) -> Result<f64> {
    let (n, d) = x0.dim();
    let z = rng::normals(&mut rng::seeded(seed), n, d);
    let (alpha, sigma) = sde.marginal_mean_std(t)?;
    let xt = &x0 * alpha + &(&z * sigma);
    Ok((&xt * &z).sum() / xt.mapv(|v| v * v).sum())
}
