// Wrong answer: increments scaled by h instead of √h (Var W(t) = t·h, not t).
// submission: A
// expect: failed
fn brownian_paths(n: usize, steps: usize, t_end: f64, seed: u64) -> Array2<f64> {
    let h = t_end / steps as f64;
    let xi = rng::normals(&mut rng::seeded(seed), n, steps);
    let mut w = Array2::zeros((n, steps + 1));
    for k in 0..steps {
        let next = &w.column(k) + &(&xi.column(k) * h);
        w.column_mut(k + 1).assign(&next);
    }
    w
}
