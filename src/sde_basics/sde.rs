//! The vector SDE of seed 000 §1.1, `dx = f(x, t) dt + G(x, t) dW`, for a batch of particles.
//!
//! A batch is an `n × d` array: one particle per row. Solvers (chapter 2) take any [`Sde`].
//! The element type `F` ([`Real`]) defaults to `f64`; `f32` batches run the same solvers.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

use crate::real::Real;
use crate::{Error, Result};

/// The diffusion coefficient `G` of an SDE at one time, in the form the solvers can exploit.
///
/// The scalar `g(t)` is `f64` for every batch type `F` (a coefficient of time, like `t`).
#[derive(Debug, Clone, PartialEq)]
pub enum Diffusion<F = f64> {
    /// `G = g(t) I`: the same scalar for every component and particle (VE, VP, sub-VP).
    Scalar(f64),
    /// `G(t)`, a `d × d` matrix shared by all particles (seed 000 §1.3: `dx = A dW`).
    Matrix(Array2<F>),
    /// Diagonal, state-dependent noise: entry `(i, j)` is `g_j(x_i, t)` (GBM, chapter 2's Milstein).
    Diagonal(Array2<F>),
}

impl<F: Real> Diffusion<F> {
    /// `G dW` for every particle (row) of `dw`.
    pub fn apply(&self, dw: ArrayView2<F>) -> Result<Array2<F>> {
        match self {
            Diffusion::Scalar(g) => Ok(&dw * F::of(*g)),
            Diffusion::Matrix(g) => {
                check_square(g, dw.ncols())?;
                Ok(dw.dot(&g.t()))
            }
            Diffusion::Diagonal(g) => {
                check_same(g.view(), dw, "diagonal diffusion")?;
                Ok(g * &dw)
            }
        }
    }

    /// `G Gᵀ v` for every particle (row) of `v`: the factor in front of the score in the
    /// reverse SDE and the probability-flow ODE (seed 000 §1.2).
    pub fn apply_ggt(&self, v: ArrayView2<F>) -> Result<Array2<F>> {
        match self {
            Diffusion::Scalar(g) => Ok(&v * F::of(g * g)),
            Diffusion::Matrix(g) => {
                check_square(g, v.ncols())?;
                // (G Gᵀ v_i)ᵀ = v_iᵀ G Gᵀ, so the batch is V (G Gᵀ).
                Ok(v.dot(&g.dot(&g.t())))
            }
            Diffusion::Diagonal(g) => {
                check_same(g.view(), v, "diagonal diffusion")?;
                Ok(&(g * g) * &v)
            }
        }
    }

    /// `x ← x + drift · dt + G dW` for every particle, in place: the Euler–Maruyama update
    /// (seed 000 §2.1.2), evaluated as `(drift · dt + G dW) + x` in one pass for scalar `G`.
    pub fn euler_update(
        &self,
        x: ArrayViewMut2<F>,
        drift: ArrayView2<F>,
        dt: f64,
        dw: ArrayView2<F>,
    ) -> Result<()> {
        check_same(x.view(), drift, "the drift")?;
        check_same(x.view(), dw, "the Wiener increment")?;
        let dt = F::of(dt);
        match self {
            Diffusion::Scalar(g) => {
                let g = F::of(*g);
                Zip::from(x)
                    .and(drift)
                    .and(dw)
                    .for_each(|x, &f, &w| *x = (f * dt + w * g) + *x);
            }
            other => {
                let gdw = other.apply(dw)?;
                Zip::from(x)
                    .and(drift)
                    .and(&gdw)
                    .for_each(|x, &f, &w| *x = (f * dt + w) + *x);
            }
        }
        Ok(())
    }

    /// True when `G` does not depend on the state (additive noise): Milstein's correction vanishes.
    pub fn is_additive(&self) -> bool {
        !matches!(self, Diffusion::Diagonal(_))
    }
}

fn check_square<F>(g: &Array2<F>, d: usize) -> Result<()> {
    if g.nrows() == d && g.ncols() == d {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "diffusion matrix is {}×{} but the state has dimension {d}",
            g.nrows(),
            g.ncols()
        )))
    }
}

fn check_same<F>(a: ArrayView2<F>, b: ArrayView2<F>, what: &str) -> Result<()> {
    if a.dim() == b.dim() {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{what} has shape {:?}, the state {:?}",
            a.dim(),
            b.dim()
        )))
    }
}

/// `dx = f(x, t) dt + G(x, t) dW` (seed 000 §1.1), evaluated on a batch `x` (`n × d`).
///
/// Methods are fallible because a drift may contain a learned score (a candle network).
/// `F` is the batch's element type: `impl Sde for X` and `dyn Sde` mean `f64`; an SDE that
/// also implements `Sde<f32>` runs in single precision through the same solvers.
pub trait Sde<F: Real = f64>: Sync {
    /// The drift `f(x, t)`, one row per particle.
    fn drift(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>>;

    /// The diffusion coefficient `G(x, t)`.
    fn diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<Diffusion<F>>;

    /// `∂g_j/∂x_j` for [`Diffusion::Diagonal`] noise, as needed by Milstein's scheme.
    /// `None` when the SDE does not provide it (additive noise needs none).
    fn diffusion_derivative(&self, _x: ArrayView2<F>, _t: f64) -> Result<Option<Array2<F>>> {
        Ok(None)
    }

    /// `(f(x, t), G(x, t))` together, for schemes that need both: an SDE whose drift already
    /// computes `G` (the reverse SDE's `f − G Gᵀ s`) overrides it to evaluate `G` once.
    fn drift_and_diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<(Array2<F>, Diffusion<F>)> {
        Ok((self.drift(x, t)?, self.diffusion(x, t)?))
    }
}

impl<F: Real, S: Sde<F> + ?Sized> Sde<F> for &S {
    fn drift(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>> {
        (**self).drift(x, t)
    }
    fn diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<Diffusion<F>> {
        (**self).diffusion(x, t)
    }
    fn diffusion_derivative(&self, x: ArrayView2<F>, t: f64) -> Result<Option<Array2<F>>> {
        (**self).diffusion_derivative(x, t)
    }
    fn drift_and_diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<(Array2<F>, Diffusion<F>)> {
        (**self).drift_and_diffusion(x, t)
    }
}
