//! The crate's error type: every public function that takes user parameters
//! returns [`Result`], and the message names the offending value.

use std::fmt::Display;

/// Everything that can go wrong in the workbook's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of its domain (`sigma_min = -1`, `dt = 0`, ...).
    #[error("invalid argument `{name}` = {value}: {reason}")]
    InvalidArgument {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// Arrays whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A computation produced a non-finite value or failed to converge.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// An error raised by candle (device, shapes of tensors, checkpoints).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand used throughout the crate. The error type is a defaulted parameter (as in
/// `anyhow::Result`) so that `Result<T, E>` still names std's type where the prelude's
/// `Result` is in scope — evcxr's generated wrapper writes `Result<(), EvcxrUserCodeError>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(InvalidArgument)` naming `name = value`.
pub fn invalid<T>(name: &'static str, value: impl Display, reason: impl Into<String>) -> Result<T> {
    Err(Error::InvalidArgument {
        name,
        value: value.to_string(),
        reason: reason.into(),
    })
}

/// `value` if it is finite and strictly positive, else an error naming it.
pub fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        invalid(name, value, "must be finite and > 0")
    }
}

/// Checks `0 < lo < hi` (or `0 < lo ≤ hi` when `allow_equal`), both finite: the `(min, max)`
/// parameter pairs of the noise schedules (`beta_min`/`beta_max`, `sigma_min`/`sigma_max`).
/// The error names the offending value, and for a wrong order both of them.
pub fn positive_range(
    (lo_name, lo): (&'static str, f64),
    (hi_name, hi): (&'static str, f64),
    allow_equal: bool,
) -> Result<()> {
    positive(lo_name, lo)?;
    positive(hi_name, hi)?;
    if hi > lo || (allow_equal && hi == lo) {
        Ok(())
    } else {
        let relation = if allow_equal { "≥" } else { ">" };
        invalid(hi_name, hi, format!("must be {relation} {lo_name} = {lo}"))
    }
}

/// `value` if it is finite, else an error naming it.
pub fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        invalid(name, value, "must be finite")
    }
}

/// Checks that every entry of a computed array is finite; `what` says which quantity failed.
pub fn all_finite<'a>(what: impl Display, values: impl IntoIterator<Item = &'a f64>) -> Result<()> {
    if values.into_iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numerical(format!(
            "{what} produced a non-finite value"
        )))
    }
}

/// `t` if it lies in `[0, t_max]`, else an error naming it (the forward SDEs, the chains).
pub(crate) fn check_time(t: f64, t_max: f64) -> Result<f64> {
    if t.is_finite() && (0.0..=t_max).contains(&t) {
        Ok(t)
    } else {
        invalid("t", t, format!("must lie in [0, {t_max}]"))
    }
}

/// The shape `(n, d)` of a batch with at least one particle and one dimension, else an error
/// naming it (`name`: e.g. `"x0.shape"`).
pub(crate) fn batch_shape<F>(name: &'static str, x: ndarray::ArrayView2<F>) -> Result<(usize, usize)> {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return invalid(
            name,
            format!("{n}×{d}"),
            "need at least one particle and one dimension",
        );
    }
    Ok((n, d))
}
