// Wrong answer: integrates the reverse SDE forwards in time (a grid from ε up to 1), so the drift
// x/t pushes the particles apart instead of drawing them in.
// submission: B
// expect: failed
fn reverse_dw(n: usize, eps: f64, steps: usize, seed: u64) -> Result<Array2<f64>> {
    struct Dw;
    impl Sde for Dw {
        fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
            Ok(Array2::zeros(x.raw_dim()))
        }
        fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
            Ok(Diffusion::Scalar(1.0))
        }
    }
    let score = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(&x * (-1.0 / t)));
    let x1 = rng::normals(&mut rng::seeded(seed), n, 1);
    let grid = TimeGrid::uniform(eps, 1.0, steps)?;
    let sol = EulerMaruyama.solve(&ReverseSde::new(Dw, score), x1.view(), &grid, Noise::Seed(seed + 1), Record::Final)?;
    Ok(sol.last().clone())
}
