// Wrong answer that crashes the process running the code: unbounded recursion overflows the
// stack (the grader must survive it and grade the next exercises).
// submission: B
// expect: crashed
fn kl_to_prior(sde: &VpSde, data: &GaussianMixture) -> Result<f64> {
    let (alpha, _sigma) = sde.marginal_mean_std(1.0)?;
    Ok(alpha + kl_to_prior(sde, data)?)
}
