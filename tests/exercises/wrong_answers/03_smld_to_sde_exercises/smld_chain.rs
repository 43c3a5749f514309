// Wrong answer: adds σ_i z_i at every level, so the variances add up to Σσ_i² instead of σ_N².
// submission: A
// expect: failed
fn smld_chain(x0: ArrayView2<f64>, sigmas: &[f64], seed: u64) -> Array2<f64> {
    let mut draws = rng::seeded(seed);
    let mut x = x0.to_owned();
    for &sigma in sigmas {
        let z = rng::normals(&mut draws, x.nrows(), x.ncols());
        x = x + z * sigma;
    }
    x
}
