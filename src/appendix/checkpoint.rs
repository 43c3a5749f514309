//! Checkpoints of the appendix runs: the network's weights as safetensors (via
//! [`crate::models::checkpoint`]'s shape-checked loader) with the training state that matters
//! for resuming in the file's metadata — the variant, the seed and the optimiser steps done.
//! No optimiser state is saved: a resumed run restarts Adam's moments (see [`super::run`]).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::Variant;
use crate::models::ScoreNet;
use crate::{Error, Result};

/// What a checkpoint says about the run that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The variant it was trained as.
    pub variant: Variant,
    /// The run's seed.
    pub seed: u64,
    /// Optimiser steps done.
    pub step: usize,
}

const FORMAT: &str = "diffusion_sde appendix v1";

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: "checkpoint",
        value: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Writes `net`'s weights and `info` to `path`.
pub fn save(net: &ScoreNet, info: &CheckpointInfo, path: &Path) -> Result<()> {
    let vars = net.varmap().data().lock().expect("var map lock");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut buffers = Vec::with_capacity(names.len());
    for name in &names {
        let t = vars[*name].as_tensor().to_dtype(candle_core::DType::F32)?;
        let values: Vec<f32> = t.flatten_all()?.to_vec1()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name.to_string(), t.dims().to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(n, shape, b)| {
            Ok((
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b)
                    .map_err(|e| corrupt(path, e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("variant".to_string(), info.variant.to_string()),
        ("seed".to_string(), info.seed.to_string()),
        ("step".to_string(), info.step.to_string()),
    ]);
    safetensors::serialize_to_file(views, Some(meta), path)
        .map_err(|e| corrupt(path, format!("could not be written: {e}")))
}

/// Reads `path`'s metadata and loads its weights into `net` (unchanged on any error: a file
/// that is not safetensors, lacks the appendix metadata, or holds another architecture).
pub fn load(net: &ScoreNet, path: &Path) -> Result<CheckpointInfo> {
    let bytes =
        std::fs::read(path).map_err(|e| corrupt(path, format!("could not be read: {e}")))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        corrupt(
            path,
            format!("is not a readable safetensors file (truncated or corrupt?): {e}"),
        )
    })?;
    let m = meta
        .metadata()
        .as_ref()
        .filter(|m| m.get("format").map(String::as_str) == Some(FORMAT))
        .ok_or_else(|| {
            corrupt(
                path,
                format!("has no `{FORMAT}` metadata: not written by the appendix command"),
            )
        })?;
    let field = |k: &str| {
        m.get(k)
            .ok_or_else(|| corrupt(path, format!("metadata lacks `{k}`")))
    };
    let info = CheckpointInfo {
        variant: field("variant")?.parse()?,
        seed: field("seed")?
            .parse()
            .map_err(|e| corrupt(path, format!("bad seed in metadata: {e}")))?,
        step: field("step")?
            .parse()
            .map_err(|e| corrupt(path, format!("bad step in metadata: {e}")))?,
    };
    crate::models::checkpoint::load(net.varmap(), path)?;
    Ok(info)
}
