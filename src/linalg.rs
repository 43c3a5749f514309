//! Small dense linear algebra for the `d × d` covariances of the toy problems (d ≤ a few).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::invalid;
use crate::Result;

/// The Cholesky factor `L` (lower triangular, `Σ = L Lᵀ`) of a symmetric positive-definite
/// matrix; `name` is used in the error when `Σ` is not square, not symmetric or not
/// positive definite (singular).
pub fn cholesky(name: &'static str, sigma: ArrayView2<f64>) -> Result<Array2<f64>> {
    let d = sigma.nrows();
    if sigma.ncols() != d || d == 0 {
        return invalid(
            name,
            format!("{}×{} matrix", sigma.nrows(), sigma.ncols()),
            "must be square",
        );
    }
    let scale = sigma.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for i in 0..d {
        for j in 0..i {
            if !(sigma[[i, j]] - sigma[[j, i]])
                .abs()
                .le(&(1e-10 * scale.max(1.0)))
            {
                return invalid(name, format!("{sigma}"), "must be symmetric");
            }
        }
    }
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let mut diag = sigma[[j, j]];
        for k in 0..j {
            diag -= l[[j, k]] * l[[j, k]];
        }
        if diag.is_nan() || diag <= 1e-14 * scale || diag.is_infinite() {
            return invalid(
                name,
                format!("{sigma}"),
                "must be positive definite (it is singular or indefinite)",
            );
        }
        l[[j, j]] = diag.sqrt();
        for i in j + 1..d {
            let mut v = sigma[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / l[[j, j]];
        }
    }
    Ok(l)
}

/// `log det Σ` from its Cholesky factor.
pub fn log_det(l: ArrayView2<f64>) -> f64 {
    2.0 * l.diag().iter().map(|v| v.ln()).sum::<f64>()
}

/// `Σ⁻¹` from its Cholesky factor.
pub fn inverse(l: ArrayView2<f64>) -> Array2<f64> {
    let d = l.nrows();
    let mut inv = Array2::zeros((d, d));
    for c in 0..d {
        let mut e = Array1::zeros(d);
        e[c] = 1.0;
        inv.column_mut(c).assign(&solve(l, e.view()));
    }
    inv
}

/// `Σ⁻¹ b` from the Cholesky factor `L` of `Σ` (forward then back substitution).
pub fn solve(l: ArrayView2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let d = l.nrows();
    let mut y = b.to_owned();
    for i in 0..d {
        for k in 0..i {
            y[i] -= l[[i, k]] * y[k];
        }
        y[i] /= l[[i, i]];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            y[i] -= l[[k, i]] * y[k];
        }
        y[i] /= l[[i, i]];
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cholesky_inverse_and_log_det_of_a_2x2() {
        let s = array![[4.0, 2.0], [2.0, 3.0]];
        let l = cholesky("s", s.view()).unwrap();
        assert!((l.dot(&l.t()) - &s).iter().all(|v| v.abs() < 1e-12));
        assert!((log_det(l.view()) - 8.0_f64.ln()).abs() < 1e-12);
        let inv = inverse(l.view());
        assert!((inv.dot(&s) - Array2::<f64>::eye(2))
            .iter()
            .all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn singular_and_non_square_matrices_are_errors() {
        let e = cholesky("cov", array![[1.0, 1.0], [1.0, 1.0]].view())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cov") && e.contains("positive definite"), "{e}");
        assert!(cholesky("cov", Array2::<f64>::zeros((2, 3)).view()).is_err());
        assert!(cholesky("cov", array![[1.0, 0.5], [0.0, 1.0]].view()).is_err());
    }
}
