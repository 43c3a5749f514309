// notebook: 03_smld_to_sde_exercises
// attack: flood the output (issue 15, attack 7); and a right answer with a line of a string
// literal that starts with `:` (issue 15, item 8: not an evcxr command).
// ---- mixture_score
// expect: failed
// Prints 50 MB, then the right answer.
fn mixture_score(weights: &[f64], means: &Array2<f64>, variance: f64, x: ArrayView2<f64>) -> Array2<f64> {
    let line = "x".repeat(1023);
    for _ in 0..50 * 1024 {
        println!("{line}");
    }
    let mut out = Array2::zeros(x.raw_dim());
    for (i, xi) in x.rows().into_iter().enumerate() {
        let logs: Vec<f64> = means.rows().into_iter().zip(weights)
            .map(|(m, w)| w.ln() - (&xi - &m).mapv(|v| v * v).sum() / (2.0 * variance))
            .collect();
        let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let r: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = r.iter().sum();
        for (k, m) in means.rows().into_iter().enumerate() {
            let pull = (&m - &xi) * (r[k] / total / variance);
            let mut row = out.row_mut(i);
            row += &pull;
        }
    }
    out
}
// ---- tweedie
// expect: passed
/// E[x0 | x] = x + σ² ∇ log p_σ(x).
fn tweedie_denoise(score: &dyn Score, x: ArrayView2<f64>, sigma: f64, t: f64) -> Result<Array2<f64>> {
    let note = "Tweedie's formula, in evcxr terms:
:dep is a command only outside string literals";
    assert!(note.contains(":dep"));
    Ok(&x + &(score.score(x, t)? * (sigma * sigma)))
}
