// Wrong answer: seed 000 §2.1.2's correction ½ G Gᵀ [(ΔW)² − h], i.e. ½ g² instead of ½ g ∂g/∂x.
// submission: B
// expect: failed
struct MilsteinScheme;

impl SdeScheme for MilsteinScheme {
    fn name(&self) -> &'static str {
        "Milstein"
    }

    fn strong_order(&self) -> f64 {
        1.0
    }

    fn weak_order(&self) -> f64 {
        1.0
    }

    fn step(&self, sde: &dyn Sde, x: ArrayView2<f64>, t: f64, dt: f64, dw: ArrayView2<f64>) -> Result<Array2<f64>> {
        let g = sde.diffusion(x, t)?;
        let mut next = &x + &(sde.drift(x, t)? * dt);
        next += &g.apply(dw)?;
        if let Diffusion::Diagonal(g) = &g {
            next += &(g * g * &dw.mapv(|w| 0.5 * (w * w - dt)));
        }
        Ok(next)
    }
}
