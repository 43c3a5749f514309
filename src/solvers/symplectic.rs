//! Symplectic integration (seed 000 §2.5.1 "辛方法"): for a separable Hamiltonian
//! `H(q, p) = T(p) + V(q)`, the Störmer–Verlet (leapfrog) method preserves the symplectic
//! structure of the flow, so its energy error stays bounded over long times instead of
//! drifting — the "long-term stability, energy conservation" the seed lists.
//!
//! A state is the row `[q | p]` (`2m` columns for `m` degrees of freedom).

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};

use crate::sde_basics::OdeSystem;
use super::ode_fixed::OdeStepper;
use crate::error::{positive, Error};
use crate::Result;

/// A separable Hamiltonian `H(q, p) = T(p) + V(q)` for a batch (one system per row).
pub trait Hamiltonian: Sync {
    /// `∂H/∂p = ∇T(p)`, the velocity.
    fn velocity(&self, p: ArrayView2<f64>) -> Result<Array2<f64>>;
    /// `−∂H/∂q = −∇V(q)`, the force.
    fn force(&self, q: ArrayView2<f64>) -> Result<Array2<f64>>;
    /// `H(q, p)` per row.
    fn energy(&self, q: ArrayView2<f64>, p: ArrayView2<f64>) -> Result<Array1<f64>>;
}

/// Hamilton's equations `q′ = ∂H/∂p`, `p′ = −∂H/∂q` as an ODE on `[q | p]`, so every
/// stepper can integrate them and [`StormerVerlet`] can use their structure.
#[derive(Debug, Clone, Copy)]
pub struct HamiltonianFlow<H>(pub H);

fn split(x: ArrayView2<f64>) -> Result<(ArrayView2<f64>, ArrayView2<f64>)> {
    let d = x.ncols();
    if !d.is_multiple_of(2) {
        return Err(Error::Shape(format!(
            "a Hamiltonian state is [q | p] with an even number of columns, got {d}"
        )));
    }
    Ok((x.slice_move(s![.., ..d / 2]), x.slice_move(s![.., d / 2..])))
}

impl<H: Hamiltonian> HamiltonianFlow<H> {
    /// `H` of every row `[q | p]` of `x`.
    pub fn energy(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        let (q, p) = split(x)?;
        self.0.energy(q, p)
    }
}

impl<H: Hamiltonian> OdeSystem for HamiltonianFlow<H> {
    fn rhs(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        let (q, p) = split(x)?;
        let (dq, dp) = (self.0.velocity(p)?, self.0.force(q)?);
        Ok(concatenate![Axis(1), dq, dp])
    }
}

/// Störmer–Verlet (velocity Verlet / leapfrog): `p ← p + h/2 F(q)`, `q ← q + h v(p)`,
/// `p ← p + h/2 F(q)`. Second order, symplectic and time-reversible. Counted as 2
/// evaluations per step (two forces and one velocity).
#[derive(Debug, Clone, Copy, Default)]
pub struct StormerVerlet;

impl<H: Hamiltonian> OdeStepper<HamiltonianFlow<H>> for StormerVerlet {
    fn name(&self) -> &'static str {
        "Störmer–Verlet"
    }

    fn order(&self) -> u32 {
        2
    }

    fn step(
        &self,
        system: &HamiltonianFlow<H>,
        x: ArrayView2<f64>,
        _t: f64,
        h: f64,
    ) -> Result<(Array2<f64>, usize)> {
        let (q, p) = split(x)?;
        let ham = &system.0;
        let mut p_half = p.to_owned();
        p_half.scaled_add(0.5 * h, &ham.force(q)?);
        let mut q_new = q.to_owned();
        q_new.scaled_add(h, &ham.velocity(p_half.view())?);
        let mut p_new = p_half;
        p_new.scaled_add(0.5 * h, &ham.force(q_new.view())?);
        Ok((concatenate![Axis(1), q_new, p_new], 2))
    }
}

/// The harmonic oscillator `H = p²/2 + ω² q²/2` in each coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HarmonicOscillator {
    /// Angular frequency `ω > 0`.
    pub omega: f64,
}

impl HarmonicOscillator {
    /// The oscillator of angular frequency `omega` (> 0).
    pub fn new(omega: f64) -> Result<Self> {
        Ok(Self {
            omega: positive("omega", omega)?,
        })
    }
}

impl HarmonicOscillator {
    /// The exact flow: `q(t) = q₀ cos ωt + p₀/ω sin ωt`, `p(t) = −q₀ ω sin ωt + p₀ cos ωt`,
    /// for rows `[q | p]` of `x0`.
    pub fn solution(&self, x0: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        crate::error::finite("t", t)?;
        let (q0, p0) = split(x0)?;
        let w = self.omega;
        let (c, s) = ((w * t).cos(), (w * t).sin());
        let q = &q0 * c + &(&p0 * (s / w));
        let p = &q0 * (-w * s) + &(&p0 * c);
        Ok(concatenate![Axis(1), q, p])
    }
}

impl Hamiltonian for HarmonicOscillator {
    fn velocity(&self, p: ArrayView2<f64>) -> Result<Array2<f64>> {
        Ok(p.to_owned())
    }

    fn force(&self, q: ArrayView2<f64>) -> Result<Array2<f64>> {
        Ok(&q * (-self.omega * self.omega))
    }

    fn energy(&self, q: ArrayView2<f64>, p: ArrayView2<f64>) -> Result<Array1<f64>> {
        let w2 = self.omega * self.omega;
        Ok((&p * &p + &(&q * &q) * w2).sum_axis(Axis(1)) * 0.5)
    }
}
