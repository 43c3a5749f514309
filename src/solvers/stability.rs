//! Linear stability (seed 000 §2.3.3): a one-step method applied to the test equation
//! `y′ = λ y` multiplies `y` by its amplification factor `R(z)`, `z = hλ`, every step; the
//! method is stable where `|R(z)| ≤ 1`. Euler: `R = 1 + z`; RK4: `R = 1 + z + z²/2 + z³/6 + z⁴/24`;
//! backward Euler: `R = 1/(1 − z)`, below 1 in modulus on the whole left half-plane (A-stable).
//!
//! [`amplification`] does not use these formulas: it runs the crate's own stepper for one step
//! on the complex test equation, so the plotted region is that of the code that runs.

use ndarray::{Array2, ArrayView2};

use crate::sde_basics::OdeSystem;
use super::ode_fixed::OdeStepper;
use crate::error::invalid;
use crate::Result;

/// `y′ = λ y` with a complex `λ` per row, as the real system `(u, v) = (Re y, Im y)`:
/// `u′ = a u − b v`, `v′ = b u + a v` for `λ = a + ib`.
struct ComplexTest {
    lambda: Array2<f64>,
}

impl OdeSystem for ComplexTest {
    fn rhs(&self, y: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        let mut out = Array2::zeros(y.dim());
        for ((mut o, y), l) in out
            .rows_mut()
            .into_iter()
            .zip(y.rows())
            .zip(self.lambda.rows())
        {
            o[0] = l[0] * y[0] - l[1] * y[1];
            o[1] = l[1] * y[0] + l[0] * y[1];
        }
        Ok(out)
    }
}

/// `|R(z)|` of `stepper` on the grid `z = re[c] + i im[r]`, as an array `im.len() × re.len()`
/// (rows follow `im`, ready for a contour plot): one step of size 1 from `y = 1`.
///
/// For backward Euler the grid must avoid the pole `z = 1`.
pub fn amplification<M>(stepper: &M, re: &[f64], im: &[f64]) -> Result<Array2<f64>>
where
    M: OdeStepper<dyn OdeSystem> + ?Sized,
{
    if re.is_empty() || im.is_empty() {
        return invalid(
            "re/im",
            format!("{}×{}", im.len(), re.len()),
            "need a non-empty grid",
        );
    }
    crate::error::all_finite("the grid of z", re.iter().chain(im))?;
    let n = re.len() * im.len();
    let lambda = Array2::from_shape_fn((n, 2), |(k, j)| {
        if j == 0 {
            re[k % re.len()]
        } else {
            im[k / re.len()]
        }
    });
    let y0 = Array2::from_shape_fn((n, 2), |(_, j)| if j == 0 { 1.0 } else { 0.0 });
    let system = ComplexTest { lambda };
    let (y1, _) = stepper.step(&system as &dyn OdeSystem, y0.view(), 0.0, 1.0)?;
    let modulus = y1.rows().into_iter().map(|y| y[0].hypot(y[1])).collect();
    Ok(Array2::from_shape_vec((im.len(), re.len()), modulus).expect("n = rows × cols"))
}
