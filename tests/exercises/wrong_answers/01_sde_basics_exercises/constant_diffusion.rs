// Wrong answer that does not compile: moves the matrix out of `&self` (E0507).
// submission: A
// expect: compile error
struct ConstantDiffusion {
    a: Array2<f64>,
}

impl Sde for ConstantDiffusion {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        Ok(Array2::zeros(x.raw_dim()))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Matrix(self.a))
    }
}
