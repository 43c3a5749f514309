// Wrong answer that returns an error: β_min − β_max is negative. The tests' `?` stops the cell
// with the error's message on stderr and no panic; the cell never reaches its end.
// submission: C
// expect: failed
fn seed_schedule_as_vp(beta_start: f64, beta_end: f64, n_steps: usize) -> Result<VpSde> {
    let n = n_steps as f64;
    VpSde::new(n * (beta_start - beta_end), n * beta_end)
}
