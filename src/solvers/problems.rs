//! Test problems with exact solutions for chapter 2's experiments: a smooth forced linear
//! ODE (the convergence ladders, the error-propagation bound of seed 000 §2.3.2) and the
//! stiff Prothero–Robinson problem (seed 000 §2.3.3).

use ndarray::{Array2, ArrayView2};

use crate::sde_basics::OdeSystem;
use crate::error::{finite, invalid};
use crate::Result;

/// `x′ = λ x + sin t`, exact solution `x(t) = C e^{λt} − (λ sin t + cos t)/(1 + λ²)` with
/// `C = x(0) + 1/(1 + λ²)`. Its Lipschitz constant is `|λ|`. `λ = −1` is the bench's
/// `dx/dt = −x + sin t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForcedLinear {
    /// The rate `λ`.
    pub lambda: f64,
}

impl ForcedLinear {
    /// The problem with a finite, non-zero rate `lambda`.
    pub fn new(lambda: f64) -> Result<Self> {
        finite("lambda", lambda)?;
        if lambda == 0.0 {
            return invalid("lambda", lambda, "must be non-zero");
        }
        Ok(Self { lambda })
    }

    fn constant(&self, x0: f64) -> f64 {
        x0 + 1.0 / (1.0 + self.lambda * self.lambda)
    }

    /// The exact solution at `t` from `x(0) = x0`, entry by entry.
    pub fn exact(&self, x0: ArrayView2<f64>, t: f64) -> Array2<f64> {
        let l = self.lambda;
        let particular = -(l * t.sin() + t.cos()) / (1.0 + l * l);
        x0.mapv(|x0| self.constant(x0) * (l * t).exp() + particular)
    }

    /// The Lipschitz constant `L = |λ|` of the right-hand side in `x`.
    pub fn lipschitz(&self) -> f64 {
        self.lambda.abs()
    }

    /// A bound on `|x″(t)|` over `[0, t_end]` from `x(0) = x0`:
    /// `x″ = λ² C e^{λt} + (λ sin t + cos t)/(1 + λ²)`, so
    /// `|x″| ≤ λ² |C| max(1, e^{λ t_end}) + 1/√(1 + λ²)`.
    pub fn second_derivative_bound(&self, x0: f64, t_end: f64) -> f64 {
        let l = self.lambda;
        l * l * self.constant(x0).abs() * (l * t_end).exp().max(1.0) + 1.0 / (1.0 + l * l).sqrt()
    }
}

impl OdeSystem for ForcedLinear {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(&x * self.lambda + t.sin())
    }
}

/// The stiff Prothero–Robinson problem `x′ = λ (x − cos t) − sin t`, `λ ≪ 0`:
/// exact solution `x(t) = cos t + (x(0) − 1) e^{λt}`. The solution varies on the scale 1,
/// but explicit methods are stable only for `h |λ|` below a constant of order 1–3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProtheroRobinson {
    /// The stiffness `λ` (negative).
    pub lambda: f64,
}

impl ProtheroRobinson {
    /// The problem with a finite, negative `lambda`.
    pub fn new(lambda: f64) -> Result<Self> {
        if !(lambda.is_finite() && lambda < 0.0) {
            return invalid("lambda", lambda, "must be finite and < 0");
        }
        Ok(Self { lambda })
    }

    /// The exact solution at `t` from `x(0) = x0`, entry by entry.
    pub fn exact(&self, x0: ArrayView2<f64>, t: f64) -> Array2<f64> {
        x0.mapv(|x0| t.cos() + (x0 - 1.0) * (self.lambda * t).exp())
    }
}

impl OdeSystem for ProtheroRobinson {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(x.mapv(|x| self.lambda * (x - t.cos()) - t.sin()))
    }
}
