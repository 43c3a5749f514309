// Wrong answer: the reverse SDE step without the −f = +½βx term (score term and noise right).
// submission: A
// expect: failed
fn vp_reverse_step(sde: &VpSde, score: &dyn Score, x: ArrayView2<f64>, t: f64, dt: f64, z: ArrayView2<f64>) -> Result<Array2<f64>> {
    let beta = sde.beta(t);
    let s = score.score(x, t)?;
    Ok(&x + &(s * (beta * dt)) + &(&z * (beta * dt).sqrt()))
}
