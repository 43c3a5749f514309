// Wrong answer: responsibilities not normalised (divides by nothing), so the score is off by
// the factor Σ_k w_k N(x; μ_k, v I) / max.
// submission: A
// expect: failed
fn mixture_score(weights: &[f64], means: &Array2<f64>, variance: f64, x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Array2::zeros(x.raw_dim());
    for (i, xi) in x.rows().into_iter().enumerate() {
        let logs: Vec<f64> = means.rows().into_iter().zip(weights)
            .map(|(m, w)| w.ln() - (&xi - &m).mapv(|v| v * v).sum() / (2.0 * variance))
            .collect();
        let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for (k, m) in means.rows().into_iter().enumerate() {
            let pull = (&m - &xi) * ((logs[k] - top).exp() / variance);
            let mut row = out.row_mut(i);
            row += &pull;
        }
    }
    out
}
