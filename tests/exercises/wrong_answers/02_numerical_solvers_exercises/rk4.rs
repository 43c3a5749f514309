// Wrong answer: k4 evaluated at the midpoint (x + h/2 k3, t + h/2) instead of the end of the step.
// submission: B
// expect: failed
fn rk4_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let k1 = ode.rhs(x, t)?;
    let k2 = ode.rhs((&x + &(&k1 * (0.5 * h))).view(), t + 0.5 * h)?;
    let k3 = ode.rhs((&x + &(&k2 * (0.5 * h))).view(), t + 0.5 * h)?;
    let k4 = ode.rhs((&x + &(&k3 * (0.5 * h))).view(), t + 0.5 * h)?;
    Ok(&x + &((k1 + k2 * 2.0 + k3 * 2.0 + k4) * (h / 6.0)))
}
