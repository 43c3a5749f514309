//! The vector SDE of seed 000 §1.1, `dx = f(x, t) dt + G(x, t) dW`, for a batch of particles.
//!
//! A batch is an `n × d` array: one particle per row. Solvers (chapter 2) take any [`Sde`].

use ndarray::{Array2, ArrayView2};

use crate::{Error, Result};

/// The diffusion coefficient `G` of an SDE at one time, in the form the solvers can exploit.
#[derive(Debug, Clone, PartialEq)]
pub enum Diffusion {
    /// `G = g(t) I`: the same scalar for every component and particle (VE, VP, sub-VP).
    Scalar(f64),
    /// `G(t)`, a `d × d` matrix shared by all particles (seed 000 §1.3: `dx = A dW`).
    Matrix(Array2<f64>),
    /// Diagonal, state-dependent noise: entry `(i, j)` is `g_j(x_i, t)` (GBM, chapter 2's Milstein).
    Diagonal(Array2<f64>),
}

impl Diffusion {
    /// `G dW` for every particle (row) of `dw`.
    pub fn apply(&self, dw: ArrayView2<f64>) -> Result<Array2<f64>> {
        match self {
            Diffusion::Scalar(g) => Ok(&dw * *g),
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
    pub fn apply_ggt(&self, v: ArrayView2<f64>) -> Result<Array2<f64>> {
        match self {
            Diffusion::Scalar(g) => Ok(&v * (g * g)),
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

    /// True when `G` does not depend on the state (additive noise): Milstein's correction vanishes.
    pub fn is_additive(&self) -> bool {
        !matches!(self, Diffusion::Diagonal(_))
    }
}

fn check_square(g: &Array2<f64>, d: usize) -> Result<()> {
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

fn check_same(a: ArrayView2<f64>, b: ArrayView2<f64>, what: &str) -> Result<()> {
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
pub trait Sde: Sync {
    /// The drift `f(x, t)`, one row per particle.
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>>;

    /// The diffusion coefficient `G(x, t)`.
    fn diffusion(&self, x: ArrayView2<f64>, t: f64) -> Result<Diffusion>;

    /// `∂g_j/∂x_j` for [`Diffusion::Diagonal`] noise, as needed by Milstein's scheme.
    /// `None` when the SDE does not provide it (additive noise needs none).
    fn diffusion_derivative(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Option<Array2<f64>>> {
        Ok(None)
    }
}

impl<S: Sde + ?Sized> Sde for &S {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        (**self).drift(x, t)
    }
    fn diffusion(&self, x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        (**self).diffusion(x, t)
    }
    fn diffusion_derivative(&self, x: ArrayView2<f64>, t: f64) -> Result<Option<Array2<f64>>> {
        (**self).diffusion_derivative(x, t)
    }
}
