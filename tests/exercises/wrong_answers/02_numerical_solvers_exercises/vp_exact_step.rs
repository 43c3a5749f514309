// Wrong answer: an Euler–Maruyama step passed off as the exact one (a = 1 − ½β(t)Δt, noise √(β(t)Δt)).
// submission: A
// expect: failed
fn vp_exact_step(sde: &VpSde, x: ArrayView2<f64>, t: f64, dt: f64, z: ArrayView2<f64>) -> Array2<f64> {
    let beta = sde.beta(t);
    &x * (1.0 - 0.5 * beta * dt) + &(&z * (beta * dt).sqrt())
}
