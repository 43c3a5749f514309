// Wrong answer: the target's sign flipped, |σ s − z|² (regressing onto +z/σ).
// submission: B
// expect: failed
fn dsm_loss(score: &dyn Score, sde: &VpSde, x0: ArrayView2<f64>, t: f64, seed: u64) -> Result<f64> {
    let (n, d) = x0.dim();
    let z = rng::normals(&mut rng::seeded(seed), n, d);
    let (alpha, sigma) = sde.marginal_mean_std(t)?;
    let xt = &x0 * alpha + &(&z * sigma);
    let s = score.score(xt.view(), t)?;
    let r = s * sigma - &z;
    Ok(r.mapv(|v| v * v).sum() / n as f64)
}
