// Wrong answer: the total variation Σ|ΔW| instead of the quadratic variation Σ(ΔW)².
// submission: B
// expect: failed
fn quadratic_variation(path: &WienerPath, i: usize, j: usize) -> f64 {
    let v = path.values();
    (0..v.shape()[0] - 1).map(|k| (v[[k + 1, i, j]] - v[[k, i, j]]).abs()).sum()
}
