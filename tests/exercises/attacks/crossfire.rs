// notebook: 02_numerical_solvers_exercises
// attack: make other exercises fail (issue 15, attack 6): a leaked thread that panics later,
// a Drop that panics, a process that exits or aborts. Each costs its own exercise only.
// ---- euler_ode
// expect: failed
// Wrong (returns its input) and leaves threads behind that panic and print while other
// exercises' tests would run.
fn euler_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _ = (ode, t, h);
    for k in 0..4u64 {
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300 * k));
            eprintln!("thread 'main' panicked at src/lib.rs:1:1:\nassertion failed");
            panic!("late panic from a leaked thread");
        });
    }
    Ok(x.to_owned())
}
// ---- rk4
// expect: failed
// The right answer, but a value it creates panics when it is dropped.
struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("Drop panics");
    }
}
fn rk4_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _bomb = Bomb;
    let k1 = ode.rhs(x, t)?;
    let k2 = ode.rhs((&x + &(&k1 * (0.5 * h))).view(), t + 0.5 * h)?;
    let k3 = ode.rhs((&x + &(&k2 * (0.5 * h))).view(), t + 0.5 * h)?;
    let k4 = ode.rhs((&x + &(&k3 * h)).view(), t + h)?;
    Ok(&x + &((k1 + k2 * 2.0 + k3 * 2.0 + k4) * (h / 6.0)))
}
// ---- vp_exact_step
// expect: failed
// Ends the process with status 0 in the middle of the tests.
fn vp_exact_step(sde: &VpSde, x: ArrayView2<f64>, t: f64, dt: f64, z: ArrayView2<f64>) -> Array2<f64> {
    let _ = (sde, x, t, dt, z);
    std::process::exit(0)
}
// ---- backward_euler
// expect: crashed
// Aborts the process.
fn backward_euler_decay(x: ArrayView2<f64>, lambda: f64, h: f64) -> Array2<f64> {
    let _ = (x, lambda, h);
    std::process::abort()
}
