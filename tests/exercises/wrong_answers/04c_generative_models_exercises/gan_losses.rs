// Wrong answer: the saturating generator loss log(1 − σ(ℓ)) = −softplus(ℓ) instead of −log σ(ℓ).
// submission: A
// expect: failed
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn gan_losses(real: &[f64], fake: &[f64]) -> (f64, f64) {
    let mean = |v: &[f64], f: &dyn Fn(f64) -> f64| v.iter().map(|&x| f(x)).sum::<f64>() / v.len() as f64;
    let d = mean(real, &|l| softplus(-l)) + mean(fake, &|l| softplus(l));
    let g = mean(fake, &|l| -softplus(l));
    (d, g)
}
