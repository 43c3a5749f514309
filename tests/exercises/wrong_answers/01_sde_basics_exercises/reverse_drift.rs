// Wrong answer: the score term with the wrong sign, f + G Gᵀ ∇log p.
// submission: A
// expect: failed
fn reverse_drift(sde: &dyn Sde, score: &dyn Score, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
    let s = score.score(x, t)?;
    let ggt_s = sde.diffusion(x, t)?.apply_ggt(s.view())?;
    Ok(sde.drift(x, t)? + ggt_s)
}
