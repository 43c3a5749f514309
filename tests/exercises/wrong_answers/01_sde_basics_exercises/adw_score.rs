// Wrong answer that never ends: inverts A Aᵀ t with a fixed-point iteration that has the wrong
// sign (X ← X − (I − C X) diverges) and loops until the change is small — NaN never is.
// submission: B
// expect: timeout
fn adw_score(a: &Array2<f64>, x: ArrayView2<f64>, t: f64) -> Array2<f64> {
    let cov = a.dot(&a.t()) * t;
    let eye = Array2::<f64>::eye(cov.nrows());
    let mut inv = eye.clone();
    loop {
        let next = &inv - &(&eye - &cov.dot(&inv));
        let change = (&next - &inv).mapv(f64::abs).sum();
        inv = next;
        if change < 1e-12 {
            break;
        }
    }
    -x.dot(&inv)
}
