// Wrong answer: a VE diffusion without the square root, g = dσ²/dt (seed 004's table).
// submission: B
// expect: failed
#[derive(Clone, Copy)]
struct VeForward {
    sigma_min: f64,
    sigma_max: f64,
}

impl VeForward {
    fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * (self.sigma_max / self.sigma_min).powf(t)
    }
}

impl Sde for VeForward {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        Ok(Array2::zeros(x.raw_dim()))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(2.0 * self.sigma(t).powi(2) * (self.sigma_max / self.sigma_min).ln()))
    }
}

impl ForwardSde for VeForward {
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        Ok((1.0, (self.sigma(t).powi(2) - self.sigma_min.powi(2)).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        self.sigma_max
    }
}
