// A right answer that prints its working on stderr (a student's debugging): it must score full
// marks, since its tests run to their end.
// submission: C
// expect: passed
fn kl_to_prior(sde: &VpSde, data: &GaussianMixture) -> Result<f64> {
    let (alpha, sigma) = sde.marginal_mean_std(1.0)?;
    eprintln!("debug: alpha = {alpha}, sigma = {sigma}");
    let d = data.dim();
    let mu = data.mean() * alpha;
    let cov = data.covariance() * (alpha * alpha) + Array2::<f64>::eye(d) * (sigma * sigma);
    let l = diffusion_sde::linalg::cholesky("covariance of p_1", cov.view())?;
    let kl = 0.5 * (cov.diag().sum() + mu.dot(&mu) - d as f64 - diffusion_sde::linalg::log_det(l.view()));
    eprintln!("debug: KL = {kl}");
    Ok(kl)
}
