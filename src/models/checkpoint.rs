//! Saving and loading a network's parameters as safetensors (the format candle and PyTorch
//! share). Loading checks every name and shape against the model *before* changing
//! anything: a checkpoint of another architecture, or a truncated file, is an error that
//! names the file and leaves the model as it was.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use candle_nn::VarMap;

use crate::{Error, Result};

/// Writes every variable of `varmap` to `path` (safetensors).
pub fn save(varmap: &VarMap, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    varmap.save(path).map_err(|e| Error::InvalidArgument {
        name: "checkpoint",
        value: path.display().to_string(),
        reason: format!("could not be written: {e}"),
    })
}

/// Loads `path` into `varmap`: all of the file's tensors must be the model's variables with
/// the same shapes, and all variables must be in the file; otherwise an error lists the
/// differences and no variable is changed.
pub fn load(varmap: &VarMap, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = std::fs::read(path)?;
    let vars = varmap.data().lock().expect("var map lock");
    let device = vars
        .values()
        .next()
        .map_or(candle_core::Device::Cpu, |v| v.device().clone());
    let tensors: HashMap<String, Tensor> = candle_core::safetensors::load_buffer(&bytes, &device)
        .map_err(|e| Error::InvalidArgument {
        name: "checkpoint",
        value: shown.clone(),
        reason: format!("is not a readable safetensors file (truncated or corrupt?): {e}"),
    })?;
    let mut problems = Vec::new();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in &names {
        match tensors.get(*name) {
            None => problems.push(format!("`{name}` is missing")),
            Some(t) if t.shape() != vars[*name].shape() => problems.push(format!(
                "`{name}` has shape {:?} in the file, {:?} in the model",
                t.dims(),
                vars[*name].shape().dims()
            )),
            Some(_) => {}
        }
    }
    let mut extra: Vec<&String> = tensors.keys().filter(|k| !vars.contains_key(*k)).collect();
    extra.sort();
    for name in extra {
        problems.push(format!("`{name}` is not a parameter of the model"));
    }
    if !problems.is_empty() {
        return Err(Error::Shape(format!(
            "checkpoint {shown} does not fit the model (unchanged): {}",
            problems.join("; ")
        )));
    }
    for name in names {
        let var = &vars[name];
        var.set(&tensors[name].to_dtype(var.dtype())?)?;
    }
    Ok(())
}
