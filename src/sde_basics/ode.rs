//! ODE systems `dx/dt = F(x, t)` on a batch of states (seed 000 §2.1.1).

use ndarray::{Array2, ArrayView2};

use crate::Result;

/// `dx/dt = F(x, t)` for a batch `x` (`n × d`), one state per row.
pub trait OdeSystem: Sync {
    /// The right-hand side `F(x, t)`.
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>>;
}

impl<O: OdeSystem + ?Sized> OdeSystem for &O {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        (**self).rhs(x, t)
    }
}
