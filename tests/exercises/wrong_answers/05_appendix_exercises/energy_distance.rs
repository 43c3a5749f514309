// Wrong answer: the cross term without its factor 2, E|X − Y| − E|X − X'| − E|Y − Y'|.
// submission: A
// expect: failed
fn energy_distance(x: ArrayView2<f64>, y: ArrayView2<f64>) -> f64 {
    let mean_dist = |a: ArrayView2<f64>, b: ArrayView2<f64>| {
        let mut total = 0.0;
        for ra in a.rows() {
            for rb in b.rows() {
                total += (&ra - &rb).mapv(|v| v * v).sum().sqrt();
            }
        }
        total / (a.nrows() * b.nrows()) as f64
    };
    mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
}
