// Wrong answer: the appendix's own reading, the discrete β_i used as the continuous β(t).
// submission: A
// expect: failed
fn seed_schedule_as_vp(beta_start: f64, beta_end: f64, n_steps: usize) -> Result<VpSde> {
    let _ = n_steps;
    VpSde::new(beta_start, beta_end)
}
