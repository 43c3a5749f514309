// Wrong answer: seed 004's g(t) = dσ²/dt, without the square root.
// submission: B
// expect: failed
struct VeSde {
    sigma_min: f64,
    sigma_max: f64,
}

impl VeSde {
    fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * (self.sigma_max / self.sigma_min).powf(t)
    }
}

impl Sde for VeSde {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        Ok(Array2::zeros(x.raw_dim()))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(2.0 * self.sigma(t).powi(2) * (self.sigma_max / self.sigma_min).ln()))
    }
}
