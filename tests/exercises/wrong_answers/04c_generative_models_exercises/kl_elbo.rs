// Wrong answer: the KL without the −1 per dimension (the prior's KL to itself is then d/2).
// submission: B
// expect: failed
fn kl_to_standard_normal(mu: &[f64], log_var: &[f64]) -> f64 {
    0.5 * mu.iter().zip(log_var).map(|(m, lv)| m * m + lv.exp() - lv).sum::<f64>()
}

fn elbo(x: &[f64], mu: &[f64], log_var: &[f64], eps: &[f64], decode: &dyn Fn(&[f64]) -> (Vec<f64>, Vec<f64>)) -> f64 {
    let z: Vec<f64> = mu.iter().zip(log_var).zip(eps).map(|((m, lv), e)| m + (0.5 * lv).exp() * e).collect();
    let (m, dlv) = decode(&z);
    let rec: f64 = x.iter().zip(&m).zip(&dlv)
        .map(|((x, m), lv)| -0.5 * ((x - m).powi(2) * (-lv).exp() + lv + (2.0 * std::f64::consts::PI).ln()))
        .sum();
    rec - kl_to_standard_normal(mu, log_var)
}
