// Wrong answer: steps against the score, x − σ² s.
// submission: B
// expect: failed
fn tweedie_denoise(score: &dyn Score, x: ArrayView2<f64>, sigma: f64, t: f64) -> Result<Array2<f64>> {
    Ok(&x - &(score.score(x, t)? * (sigma * sigma)))
}
