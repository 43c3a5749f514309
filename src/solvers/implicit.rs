//! Implicit methods for stiff problems (seed 000 §2.3.3, §2.5.1 "隐式方法"): backward Euler,
//! `x_{n+1} = x_n + h F(x_{n+1}, t_{n+1})`, solved for `x_{n+1}` by Newton's method.
//!
//! Backward Euler is A-stable (and L-stable): its amplification factor on `y′ = λy` is
//! `1/(1 − hλ)`, of modulus below 1 for every `Re λ < 0` and every `h > 0`, so a stiff
//! problem can be stepped at the scale of the solution, not of its fastest decaying mode.

use ndarray::{s, Array2, ArrayView2, Axis};

use crate::sde_basics::OdeSystem;
use super::ode_fixed::OdeStepper;
use crate::error::{invalid, positive, Error};
use crate::Result;

/// Backward (implicit) Euler. Global error `O(h)`.
///
/// Each step solves `G(y) = y − x − h F(y, t + h) = 0` by Newton's method from `y = x`,
/// with the Jacobian `∂F/∂y` from forward differences (one batched evaluation per state
/// component: the rows of a batch are independent particles) and a `d × d` linear solve per
/// particle. For a linear `F` the first Newton step is the exact linear solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackwardEuler {
    /// Newton stops when every update satisfies `|Δy| ≤ tol · (1 + |y|)`.
    pub tol: f64,
    /// Newton iterations allowed per step before the step fails.
    pub max_iter: usize,
}

impl Default for BackwardEuler {
    /// `tol = 1e-10`, at most 50 Newton iterations.
    fn default() -> Self {
        Self {
            tol: 1e-10,
            max_iter: 50,
        }
    }
}

impl BackwardEuler {
    /// Backward Euler with a Newton tolerance (> 0) and iteration limit (≥ 1).
    pub fn new(tol: f64, max_iter: usize) -> Result<Self> {
        positive("tol", tol)?;
        if max_iter == 0 {
            return invalid("max_iter", 0, "need at least one Newton iteration");
        }
        Ok(Self { tol, max_iter })
    }
}

impl<S: OdeSystem + ?Sized> OdeStepper<S> for BackwardEuler {
    fn name(&self) -> &'static str {
        "backward Euler"
    }

    fn order(&self) -> u32 {
        1
    }

    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)> {
        let (n, d) = x.dim();
        let t1 = t + h;
        let mut y = x.to_owned();
        let mut evals = 0;
        for _ in 0..self.max_iter {
            let f = system.rhs(y.view(), t1)?;
            // Residual G(y) and the Jacobian of F by forward differences, column by column.
            let residual = &y - &x - &(&f * h);
            let mut jac = Array2::<f64>::zeros((n, d * d)); // row i: J_i row-major
            for j in 0..d {
                let mut yp = y.clone();
                let mut steps = Vec::with_capacity(n);
                for i in 0..n {
                    let delta = f64::EPSILON.sqrt() * y[[i, j]].abs().max(1.0);
                    yp[[i, j]] += delta;
                    steps.push(delta);
                }
                let fp = system.rhs(yp.view(), t1)?;
                for i in 0..n {
                    for r in 0..d {
                        jac[[i, r * d + j]] = (fp[[i, r]] - f[[i, r]]) / steps[i];
                    }
                }
            }
            evals += 1 + d;
            // Per particle: (I − h J) Δ = −G(y).
            let mut converged = true;
            for (i, (mut yi, gi)) in y
                .axis_iter_mut(Axis(0))
                .zip(residual.axis_iter(Axis(0)))
                .enumerate()
            {
                let mut m: Vec<f64> = jac.slice(s![i, ..]).iter().map(|v| -h * v).collect();
                for r in 0..d {
                    m[r * d + r] += 1.0;
                }
                let mut delta: Vec<f64> = gi.iter().map(|v| -v).collect();
                solve_in_place(&mut m, &mut delta, d).ok_or_else(|| {
                    Error::Numerical(format!(
                        "backward Euler: I − h ∂F/∂x is singular for particle {i} at t = {t1} (h = {h})"
                    ))
                })?;
                for (v, dv) in yi.iter_mut().zip(&delta) {
                    if dv.abs() > self.tol * (1.0 + v.abs()) || !dv.is_finite() {
                        converged = false;
                    }
                    *v += dv;
                }
            }
            if converged {
                return Ok((y, evals));
            }
        }
        Err(Error::Numerical(format!(
            "backward Euler: Newton did not converge in max_iter = {} iterations at t = {t1} (h = {h}, tol = {})",
            self.max_iter, self.tol
        )))
    }
}

/// Solves `m x = b` (`m` is `d × d`, row-major) in place by Gaussian elimination with
/// partial pivoting; `b` becomes `x`. `None` when `m` is singular.
fn solve_in_place(m: &mut [f64], b: &mut [f64], d: usize) -> Option<()> {
    let scale = m.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    for col in 0..d {
        let pivot =
            (col..d).max_by(|&a, &b| m[a * d + col].abs().total_cmp(&m[b * d + col].abs()))?;
        let size = m[pivot * d + col].abs();
        if size.is_nan() || size <= 1e-14 * scale {
            return None;
        }
        if pivot != col {
            for k in 0..d {
                m.swap(col * d + k, pivot * d + k);
            }
            b.swap(col, pivot);
        }
        for r in col + 1..d {
            let f = m[r * d + col] / m[col * d + col];
            for k in col..d {
                m[r * d + k] -= f * m[col * d + k];
            }
            b[r] -= f * b[col];
        }
    }
    for r in (0..d).rev() {
        let mut v = b[r];
        for k in r + 1..d {
            v -= m[r * d + k] * b[k];
        }
        b[r] = v / m[r * d + r];
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_elimination_solves_a_system_that_needs_pivoting() {
        let mut m = vec![0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 3.0];
        // m[0][0] = 0 forces a row swap; b = m x for x = (1, 2, 3).
        let x = [1.0, 2.0, 3.0];
        let mut b = vec![0.0; 3];
        for r in 0..3 {
            b[r] = (0..3).map(|k| m[r * 3 + k] * x[k]).sum();
        }
        solve_in_place(&mut m, &mut b, 3).unwrap();
        for k in 0..3 {
            assert!((b[k] - x[k]).abs() < 1e-12, "{b:?}");
        }
        let mut singular = vec![1.0, 2.0, 2.0, 4.0];
        assert!(solve_in_place(&mut singular, &mut [1.0, 1.0], 2).is_none());
    }
}
