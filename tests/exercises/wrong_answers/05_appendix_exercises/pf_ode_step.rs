// Wrong answer: the appendix's sample_ode, x − ½β s Δt.
// submission: B
// expect: failed
fn vp_pf_ode_step(sde: &VpSde, score: &dyn Score, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<Array2<f64>> {
    let s = score.score(x, t)?;
    Ok(&x - &(s * (0.5 * sde.beta(t) * dt)))
}
