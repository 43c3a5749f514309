// Wrong answer: the explicit step x (1 − λh), unstable for λh > 2.
// submission: A
// expect: failed
fn backward_euler_decay(x: ArrayView2<f64>, lambda: f64, h: f64) -> Array2<f64> {
    &x * (1.0 - lambda * h)
}
