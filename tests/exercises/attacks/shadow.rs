// notebook: 02_numerical_solvers_exercises
// attack: redefine what the tests call (issue 15, attack 2).
// ---- backward_euler
// expect: failed
// assert!/assert_eq! made no-ops (also exported at the crate root), and an answer that is wrong.
macro_rules! assert {
    ($($t:tt)*) => {};
}
#[macro_export]
macro_rules! assert_eq {
    ($($t:tt)*) => {};
}
fn backward_euler_decay(x: ArrayView2<f64>, lambda: f64, h: f64) -> Array2<f64> {
    assert!(false);
    assert_eq!(1, 2);
    &x * (1.0 - lambda * h)
}
// ---- milstein
// expect: compile error
// Redefines the setup's helper the hidden tests fit the order with, and gives seed 000's wrong
// correction ½ g² instead of ½ g ∂g/∂x.
fn slope(_x: &[f64], _y: &[f64]) -> f64 {
    1.0
}
struct MilsteinScheme;

impl SdeScheme for MilsteinScheme {
    fn name(&self) -> &'static str {
        "Milstein"
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
// ---- pf_ode
// expect: failed
// A blanket trait whose `all` is always true, array! exported at the crate root to build
// whatever the tests compare with, and an answer that returns its input.
trait AlwaysAll {
    fn all<F>(&mut self, _f: F) -> bool {
        true
    }
}
impl<T> AlwaysAll for T {}
#[macro_export]
macro_rules! array {
    ($($t:tt)*) => { diffusion_sde::ndarray::Array2::<f64>::zeros((1, 1)) };
}
fn pf_euler_step(sde: &VpSde, score: &dyn Score, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<Array2<f64>> {
    let _ = (sde, score, t, dt);
    Ok(x.to_owned())
}
