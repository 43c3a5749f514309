//! Choosing where candle runs: the CPU always; a CUDA GPU when built with `--features cuda`.

use candle_core::Device;

use crate::error::invalid;
use crate::Result;

/// The device named `"cpu"`, `"cuda"` or `"auto"` (CUDA when built with the feature and a GPU
/// is present, otherwise the CPU).
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available(0)?),
        "cuda" if cfg!(feature = "cuda") => Ok(Device::new_cuda(0)?),
        "cuda" => invalid(
            "device",
            name,
            "this build has no CUDA support; rebuild with `cargo build --release --features cuda`",
        ),
        other => invalid("device", other, "expected one of cpu, cuda, auto"),
    }
}

/// A short description for notebooks and logs, e.g. `"cpu"` or `"cuda:0"`.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda:0".into(),
        Device::Metal(_) => "metal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_devices_and_bad_names_are_errors() {
        assert!(device("cpu").unwrap().is_cpu());
        assert!(device("auto").is_ok());
        let e = device("tpu").unwrap_err().to_string();
        assert!(e.contains("tpu"), "{e}");
        if !cfg!(feature = "cuda") {
            let e = device("cuda").unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
