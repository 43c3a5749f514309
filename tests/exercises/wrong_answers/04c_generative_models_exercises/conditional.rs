// Wrong answer: each component conditioned correctly, but the weights kept as w_k (not re-weighted by the observation).
// submission: B
// expect: failed
fn conditional_x1(mixture: &GaussianMixture, a: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut m = vec![];
    let mut v = vec![];
    for (k, c) in mixture.covs().iter().enumerate() {
        let mu = mixture.means().row(k);
        let gain = c[[0, 1]] / c[[1, 1]];
        m.push(mu[0] + gain * (a - mu[1]));
        v.push(c[[0, 0]] - gain * c[[0, 1]]);
    }
    (mixture.weights().to_vec(), m, v)
}
