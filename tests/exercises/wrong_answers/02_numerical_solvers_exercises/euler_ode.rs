// Wrong answer that panics without a word: it silences the panic message (a hook that prints
// nothing) and then indexes a row that does not exist. The grader must still see the failure.
// submission: A
// expect: failed
fn euler_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    std::panic::set_hook(Box::new(|_| {}));
    let f = ode.rhs(x, t)?;
    let first = x.row(0).to_owned() + &(f.row(1).to_owned() * h);
    Ok(first.insert_axis(Axis(0)))
}
