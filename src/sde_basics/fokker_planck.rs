//! The Fokker–Planck equation in one dimension on a grid (seed 000 §1.3.2, §1.2.1 step 1):
//!
//! `∂p/∂t = −∂ₓ J`,  `J = f(x,t) p − ½ ∂ₓ(D(x,t) p)`,  `D = g²`,
//!
//! for the 1-D SDE `dx = f dt + g dW` of any [`Sde`], so the law of its particles can be
//! computed without particles.
//!
//! **Scheme.** Finite volumes: `p_i` is the mean density of cell `i`, and `dp_i/dt =
//! −(J_{i+½} − J_{i−½})/h` with zero flux through the two outer walls, so the total mass
//! `h Σ p_i` is conserved exactly (up to rounding). Writing `J = v p − ½ D ∂ₓp` with the
//! effective velocity `v = f − ½ ∂ₓD`, the face flux is Scharfetter–Gummel's
//! (exponential fitting):
//!
//! `J_{i+½} = D/(2h) · [B(−c) p_i − B(c) p_{i+1}]`,  `c = 2 v h / D`,  `B(z) = z / (e^z − 1)`,
//!
//! with `f, D` at the face and `∂ₓD ≈ (D_{i+1} − D_i)/h`. For small cell Péclet numbers `c`
//! it is the central difference (second order in `h`); for large ones it becomes upwind, so
//! the density stays non-negative where `D` is small (e.g. geometric Brownian motion near 0).
//! Time stepping is Crank–Nicolson (second order in `Δt`), one tridiagonal solve per step.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::{Diffusion, Sde};
use crate::error::{all_finite, finite, invalid};
use super::{Record, TimeGrid};
use crate::{Error, Result};

/// A uniform grid of `cells` finite-volume cells on `[lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FokkerPlanck1d {
    lower: f64,
    upper: f64,
    cells: usize,
}

/// Densities on the grid at the recorded times.
#[derive(Debug, Clone)]
pub struct FokkerPlanckSolution {
    /// Cell centres `x_i`.
    pub x: Array1<f64>,
    /// The recorded times.
    pub times: Vec<f64>,
    /// `density[k][i]` ≈ `p_{times[k]}(x_i)`.
    pub density: Vec<Array1<f64>>,
}

impl FokkerPlanckSolution {
    /// The density at the last recorded time.
    pub fn last(&self) -> &Array1<f64> {
        self.density
            .last()
            .expect("a solution always records its final density")
    }

    /// `∫ p dx ≈ h Σ p_i` at recorded time `k`.
    pub fn mass(&self, k: usize) -> Result<f64> {
        match self.density.get(k) {
            Some(p) => Ok(p.sum() * self.cell_width()),
            None => invalid(
                "k",
                k,
                format!("only {} densities were recorded", self.density.len()),
            ),
        }
    }

    /// The largest `L¹` distance `h Σ |p_i − p(t, x_i)|` over the recorded times, given the
    /// exact `log p(t, ·)` on a batch of points (`n × 1`).
    pub fn max_l1_error(
        &self,
        log_density: impl Fn(f64, ArrayView2<f64>) -> Result<Array1<f64>>,
    ) -> Result<f64> {
        let h = self.cell_width();
        let x = column(&self.x);
        let mut worst = 0.0_f64;
        for (t, p) in self.times.iter().zip(&self.density) {
            let q = log_density(*t, x.view())?.mapv(f64::exp);
            if q.len() != p.len() {
                return Err(Error::Shape(format!(
                    "the exact density has {} values, the grid {} cells",
                    q.len(),
                    p.len()
                )));
            }
            worst = worst.max(h * (p - &q).mapv(f64::abs).sum());
        }
        Ok(worst)
    }

    fn cell_width(&self) -> f64 {
        if self.x.len() > 1 {
            self.x[1] - self.x[0]
        } else {
            f64::NAN
        }
    }
}

impl FokkerPlanck1d {
    /// `cells ≥ 3` cells on `[lower, upper]`; the walls must lie where `p` is negligible.
    pub fn new(lower: f64, upper: f64, cells: usize) -> Result<Self> {
        finite("lower", lower)?;
        finite("upper", upper)?;
        if upper <= lower {
            return invalid("upper", upper, format!("must exceed lower = {lower}"));
        }
        if cells < 3 {
            return invalid("cells", cells, "need at least 3 cells");
        }
        Ok(Self {
            lower,
            upper,
            cells,
        })
    }

    /// The cell width `h`.
    pub fn cell_width(&self) -> f64 {
        (self.upper - self.lower) / self.cells as f64
    }

    /// The cell centres `x_i = lower + (i + ½) h`.
    pub fn centres(&self) -> Array1<f64> {
        let h = self.cell_width();
        Array1::from_shape_fn(self.cells, |i| self.lower + (i as f64 + 0.5) * h)
    }

    /// `exp(log_density)` at the cell centres, given on the `cells × 1` batch of centres
    /// (an initial condition from any log-density, e.g. `GaussianMixture::log_density`).
    pub fn density_on(
        &self,
        log_density: impl Fn(ArrayView2<f64>) -> Result<Array1<f64>>,
    ) -> Result<Array1<f64>> {
        let p = log_density(column(&self.centres()).view())?.mapv(f64::exp);
        if p.len() != self.cells {
            return Err(Error::Shape(format!(
                "the density has {} values, the grid {} cells",
                p.len(),
                self.cells
            )));
        }
        Ok(p)
    }

    /// Evolves the density `p0` (values at [`Self::centres`]) of the 1-D `sde` over the
    /// increasing time grid `times`, keeping the densities `record` asks for.
    pub fn solve(
        &self,
        sde: &dyn Sde,
        p0: ArrayView1<f64>,
        times: &TimeGrid,
        record: Record,
    ) -> Result<FokkerPlanckSolution> {
        if p0.len() != self.cells {
            return Err(Error::Shape(format!(
                "p0 has {} values but the grid has {} cells",
                p0.len(),
                self.cells
            )));
        }
        if let Some((i, v)) = p0
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return invalid(
                "p0",
                format!("{v} at cell {i}"),
                "a density must be finite and ≥ 0",
            );
        }
        let ts = times.times();
        if ts[1] < ts[0] {
            return invalid(
                "times",
                format!("a grid from {} to {}", ts[0], ts[ts.len() - 1]),
                "the Fokker–Planck equation runs forward in time: the grid must increase",
            );
        }
        let keep = record.indices(times.steps())?;
        let mut next_keep = keep.iter().peekable();
        let mut p = p0.to_owned();
        let mut density = Vec::with_capacity(keep.len());
        if next_keep.peek() == Some(&&0) {
            density.push(p.clone());
            next_keep.next();
        }
        let mut op_now = self.operator(sde, ts[0])?;
        for k in 0..times.steps() {
            let (t, dt) = times.step(k);
            let op_next = self.operator(sde, t + dt)?;
            // (I − Δt/2 L(t+Δt)) p' = (I + Δt/2 L(t)) p.
            let rhs = &p + &(op_now.apply(p.view()) * (0.5 * dt));
            p = op_next.solve_shifted(-0.5 * dt, rhs)?;
            all_finite(format!("the Fokker–Planck step at t = {t}"), p.iter())?;
            if next_keep.peek() == Some(&&(k + 1)) {
                density.push(p.clone());
                next_keep.next();
            }
            op_now = op_next;
        }
        Ok(FokkerPlanckSolution {
            x: self.centres(),
            times: keep.iter().map(|&k| ts[k]).collect(),
            density,
        })
    }

    /// The semi-discrete operator `L(t)` of `dp/dt = L p` (tridiagonal).
    fn operator(&self, sde: &dyn Sde, t: f64) -> Result<Tridiagonal> {
        let h = self.cell_width();
        let m = self.cells;
        let centres = self.centres();
        let faces = Array1::from_shape_fn(m - 1, |i| self.lower + (i + 1) as f64 * h);
        let d_centre = self.diffusion_tensor(sde, &centres, t)?;
        let d_face = self.diffusion_tensor(sde, &faces, t)?;
        let f_face = sde.drift(column(&faces).view(), t)?;
        if f_face.dim() != (m - 1, 1) {
            return Err(Error::Shape(format!(
                "the drift returned {:?} for {} one-dimensional points: the Fokker–Planck solver is 1-D",
                f_face.dim(),
                m - 1
            )));
        }
        all_finite(format!("the drift at t = {t}"), f_face.iter())?;
        // J_{i+½} = α_i p_i − β_i p_{i+1}.
        let mut alpha = Array1::zeros(m - 1);
        let mut beta = Array1::zeros(m - 1);
        for i in 0..m - 1 {
            let d = d_face[i];
            let v = f_face[[i, 0]] - 0.5 * (d_centre[i + 1] - d_centre[i]) / h;
            let c = 2.0 * v * h / d;
            if d > 0.0 && c.is_finite() {
                alpha[i] = 0.5 * d / h * bernoulli(-c);
                beta[i] = 0.5 * d / h * bernoulli(c);
            } else {
                // No diffusion across this face: pure upwind transport.
                alpha[i] = v.max(0.0);
                beta[i] = (-v).max(0.0);
            }
        }
        // dp_i/dt = [α_{i−1} p_{i−1} − (α_i + β_{i−1}) p_i + β_i p_{i+1}] / h.
        let mut diag = Array1::zeros(m);
        let mut lower = Array1::zeros(m - 1);
        let mut upper = Array1::zeros(m - 1);
        for i in 0..m {
            let out_right = if i + 1 < m { alpha[i] } else { 0.0 };
            let out_left = if i > 0 { beta[i - 1] } else { 0.0 };
            diag[i] = -(out_right + out_left) / h;
        }
        for i in 0..m - 1 {
            upper[i] = beta[i] / h; // row i, column i+1
            lower[i] = alpha[i] / h; // row i+1, column i
        }
        Ok(Tridiagonal { lower, diag, upper })
    }

    /// `D = g²` at the points `x` (a 1-D SDE's diffusion in any of its three forms).
    fn diffusion_tensor(&self, sde: &dyn Sde, x: &Array1<f64>, t: f64) -> Result<Array1<f64>> {
        let d = match sde.diffusion(column(x).view(), t)? {
            Diffusion::Scalar(g) => Array1::from_elem(x.len(), g * g),
            Diffusion::Matrix(g) if g.dim() == (1, 1) => {
                Array1::from_elem(x.len(), g[[0, 0]].powi(2))
            }
            Diffusion::Diagonal(g) if g.dim() == (x.len(), 1) => g.column(0).mapv(|v| v * v),
            other => {
                return Err(Error::Shape(format!(
                    "the Fokker–Planck solver is 1-D, but the diffusion is {other:?}"
                )))
            }
        };
        all_finite(format!("the diffusion at t = {t}"), d.iter())?;
        Ok(d)
    }
}

/// `B(z) = z / (e^z − 1)`, `B(0) = 1`.
fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-8 {
        1.0 - 0.5 * z
    } else {
        z / z.exp_m1()
    }
}

fn column(x: &Array1<f64>) -> Array2<f64> {
    x.clone().insert_axis(ndarray::Axis(1))
}

/// A tridiagonal matrix: `lower[i]` at `(i+1, i)`, `upper[i]` at `(i, i+1)`.
struct Tridiagonal {
    lower: Array1<f64>,
    diag: Array1<f64>,
    upper: Array1<f64>,
}

impl Tridiagonal {
    /// `L p`.
    fn apply(&self, p: ArrayView1<f64>) -> Array1<f64> {
        let m = p.len();
        let mut out = &self.diag * &p;
        for i in 0..m - 1 {
            out[i] += self.upper[i] * p[i + 1];
            out[i + 1] += self.lower[i] * p[i];
        }
        out
    }

    /// Solves `(I + s L) y = rhs` by the Thomas algorithm (stable: `I + sL` is column
    /// diagonally dominant for `s ≤ 0`, because `L`'s off-diagonals are ≥ 0 and its columns sum to 0).
    fn solve_shifted(&self, s: f64, mut rhs: Array1<f64>) -> Result<Array1<f64>> {
        let m = rhs.len();
        let mut c = Array1::zeros(m);
        let mut b = 1.0 + s * self.diag[0];
        for i in 0..m {
            if i > 0 {
                let a = s * self.lower[i - 1];
                b = 1.0 + s * self.diag[i] - a * c[i - 1];
                rhs[i] -= a * rhs[i - 1];
            }
            if b == 0.0 || !b.is_finite() {
                return Err(Error::Numerical(format!(
                    "the Crank–Nicolson system is singular at cell {i}; reduce the time step"
                )));
            }
            if i + 1 < m {
                c[i] = s * self.upper[i] / b;
            }
            rhs[i] /= b;
        }
        for i in (0..m - 1).rev() {
            let next = rhs[i + 1];
            rhs[i] -= c[i] * next;
        }
        Ok(rhs)
    }
}
