// Wrong answer: noise √α instead of √(2α) in the Langevin step.
// submission: A
// expect: failed
fn annealed_langevin(data: &GaussianMixture, sigmas: &[f64], steps: usize, eps: f64, x0: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
    let mut draws = rng::seeded(seed);
    let last = sigmas[sigmas.len() - 1];
    let mut x = x0.to_owned();
    for &sigma in sigmas {
        let p = data.perturbed(1.0, sigma)?;
        let alpha = eps * sigma * sigma / (last * last);
        for _ in 0..steps {
            let z = rng::normals(&mut draws, x.nrows(), x.ncols());
            x = &x + &(p.score(x.view())? * alpha) + &(z * alpha.sqrt());
        }
    }
    Ok(x)
}
