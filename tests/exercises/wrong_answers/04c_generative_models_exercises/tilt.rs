// Wrong answer: means and variances tilted, weights left as they were.
// submission: A
// expect: failed
fn tilt_1d(w: &[f64], m: &[f64], v: &[f64], lambda: f64, c: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut nm = vec![];
    let mut nv = vec![];
    for k in 0..w.len() {
        let prec = 1.0 / v[k] + lambda;
        nv.push(1.0 / prec);
        nm.push((m[k] / v[k] + lambda * c) / prec);
    }
    (w.to_vec(), nm, nv)
}
