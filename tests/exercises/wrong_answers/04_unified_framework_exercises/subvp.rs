// Wrong answer: the VP kernel's standard deviation √(1 − e^(−B)) kept for sub-VP.
// submission: A
// expect: failed
#[derive(Clone, Copy)]
struct SubVp {
    vp: VpSde,
}

impl Sde for SubVp {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(&x * (-0.5 * self.vp.beta(t)))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        let b = self.vp.integrated_beta(t);
        Ok(Diffusion::Scalar((self.vp.beta(t) * (1.0 - (-2.0 * b).exp())).sqrt()))
    }
}

impl ForwardSde for SubVp {
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let b = self.vp.integrated_beta(t);
        Ok(((-0.5 * b).exp(), (1.0 - (-b).exp()).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }
}
