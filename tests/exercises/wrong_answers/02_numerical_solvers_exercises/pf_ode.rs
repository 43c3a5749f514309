// Wrong answer: the reverse-SDE drift f − g² s without its noise (the ½ forgotten).
// submission: B
// expect: failed
fn pf_euler_step(sde: &VpSde, score: &dyn Score, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<Array2<f64>> {
    let beta = sde.beta(t);
    let s = score.score(x, t)?;
    let rhs = &x * (-0.5 * beta) - &(s * beta);
    Ok(&x + &(rhs * dt))
}
