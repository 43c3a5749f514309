//! The one place where classical numerics (`f64` ndarray) meet networks (`f32` candle tensors).

use candle_core::{DType, Device, Tensor};
use ndarray::{Array2, ArrayView2};

use crate::{Error, Result};

/// An `n × d` batch as an `f32` tensor on `device`.
pub fn to_tensor(x: ArrayView2<f64>, device: &Device) -> Result<Tensor> {
    let (n, d) = x.dim();
    let data: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    Ok(Tensor::from_vec(data, (n, d), device)?)
}

/// A rank-2 tensor back to an `f64` array.
pub fn to_array(t: &Tensor) -> Result<Array2<f64>> {
    let (n, d) = t.dims2()?;
    let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    Array2::from_shape_vec((n, d), v.into_iter().map(f64::from).collect())
        .map_err(|e| Error::Shape(e.to_string()))
}
