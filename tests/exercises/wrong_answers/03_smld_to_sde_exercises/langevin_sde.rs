// Wrong answer: diffusion 1 instead of √2 (the √(2ε) of the Langevin step read as √ε):
// the chain samples a law with half the variance.
// submission: B
// expect: failed
struct LangevinSde<S: Score> {
    score: S,
}

impl<S: Score> Sde for LangevinSde<S> {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.score.score(x, t)
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(1.0))
    }
}
