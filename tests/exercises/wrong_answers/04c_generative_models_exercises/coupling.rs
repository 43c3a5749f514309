// Wrong answer: the log-determinant taken as e^s (the Jacobian entry) instead of s = log e^s.
// submission: A
// expect: failed
fn coupling_forward(x: [f64; 2], s: &dyn Fn(f64) -> f64, t: &dyn Fn(f64) -> f64) -> ([f64; 2], f64) {
    let sv = s(x[0]);
    ([x[0], x[1] * sv.exp() + t(x[0])], sv.exp())
}

fn coupling_inverse(y: [f64; 2], s: &dyn Fn(f64) -> f64, t: &dyn Fn(f64) -> f64) -> [f64; 2] {
    [y[0], (y[1] - t(y[0])) * (-s(y[0])).exp()]
}
