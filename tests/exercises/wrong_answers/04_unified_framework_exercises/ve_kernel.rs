// Wrong answer: s(t) = σ(t), forgetting that the process starts without noise (σ(0)² must be subtracted).
// submission: A
// expect: failed
fn ve_mean_std(sigma_min: f64, sigma_max: f64, t: f64) -> (f64, f64) {
    (1.0, sigma_min * (sigma_max / sigma_min).powf(t))
}
